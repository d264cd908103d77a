//! OpenID Connect login for opk: authorization code + PKCE (S256) over a loopback redirect
//! (RFC 6749, RFC 7636, RFC 8252, OIDC Core), wire-compatible with opkssh's browser login, and
//! the device authorization grant (RFC 8628) for machines without a browser.
//!
//! The flow is blocking (std threads only). HTTP to the OP goes through [`OidcHttp`], implemented
//! for `opk_http::HttpClient`. The ID token's signature is verified by the caller (as part of the
//! PK Token); here only its shape and `nonce` are checked.
#![forbid(unsafe_code)]

mod device;
mod error;
mod flow;
mod http;
mod pct;
mod provider;
mod request;

pub use device::{DeviceCode, DeviceUi, login_with_device};
pub use error::{Error, IdTokenProblem, ProviderProblem, TokenResponseProblem};
pub use flow::{LoginOptions, Tokens, login_with_browser, refresh_tokens};
pub use http::OidcHttp;
pub use provider::ProviderSpec;

/// Entry points for fuzzers and fuzz-style tests; not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `data` as a loopback-listener request head and, if that works, its query string.
    /// Must never panic, whatever `data` is.
    pub fn fuzz_callback_request(data: &[u8]) {
        if let Ok(req) = crate::request::parse_head(data)
            && let Some(q) = req.query
        {
            let _ = crate::pct::parse_query(&q);
        }
    }

    /// Checks `jwt` as an ID token carrying `nonce`. Must never panic.
    pub fn fuzz_id_token(jwt: &str, nonce: &str) {
        let _ = crate::flow::check_id_token(jwt, nonce);
    }

    /// Parses `s` as a `--provider` value. Must never panic.
    pub fn fuzz_provider(s: &str) {
        let _ = s.parse::<crate::ProviderSpec>();
    }
}

/// Serialises tests that bind fixed loopback ports.
#[cfg(test)]
pub(crate) fn test_ports_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
