//! `opk login --auto-refresh`, as opkssh's: after the login, keep the certificate fresh with the
//! OP's refresh token. Each refreshed ID token is appended to the same PK Token (the original
//! token, its nonce commitment and the CIC stay), a new certificate for the same key is made and
//! handed to the caller to write. Servers with the `oidc_refreshed` policy accept it while the
//! newest refreshed token lives; others see the original token and are unchanged.
//!
//! Unlike opkssh (#600: a refused refresh loops for ever), failures are bounded: a refusal by the
//! OP ends the loop at once, a transport failure is retried a few times with a doubling pause.

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use opk_jwks::JwksFetcher;
use opk_oidc::{OidcHttp, ProviderSpec, Tokens};
use opk_pktoken::{ExpiryPolicy, ProviderCheck};

use crate::flow::certificate;
use crate::{Error, Login};

/// How the refresh loop paces itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshSettings {
    /// Refresh this long before the ID token's `exp` (opkssh: one minute), or half the time
    /// left when that is shorter.
    pub lead: Duration,
    /// Attempts after the first failed one, for failures that may pass (network, HTTP 5xx).
    pub retries: u32,
    /// The pause before the first retry; each further one doubles it.
    pub backoff: Duration,
}

impl Default for RefreshSettings {
    fn default() -> Self {
        RefreshSettings {
            lead: Duration::from_secs(60),
            retries: 4,
            backoff: Duration::from_secs(1),
        }
    }
}

/// One refresh done: the new login and its refreshed ID token's `exp`.
pub struct Refreshed<'a> {
    /// The login carrying the refreshed token (same key, new certificate).
    pub login: &'a Login,
    /// When the refreshed ID token expires (Unix seconds).
    pub expires: i64,
}

/// Seconds from `now` until the refresh of a token expiring at `exp`: `lead` before it, or half
/// the time left if that is less, and at least one second (never a busy loop).
pub fn refresh_delay(now: i64, exp: i64, lead: Duration) -> Duration {
    let left = exp.saturating_sub(now).max(0) as u64;
    let ahead = lead.as_secs().min(left / 2);
    Duration::from_secs(left.saturating_sub(ahead).max(1))
}

impl Login {
    /// This login with `tokens` from a refresh: the refreshed ID token appended to the PK Token
    /// and checked as `oidc_refreshed` servers check it, and a new certificate for the same key.
    /// Returns the refreshed token's `exp` too.
    pub fn refreshed(
        &self,
        tokens: &Tokens,
        provider: &ProviderSpec,
        jwks: &dyn JwksFetcher,
        send_access_token: bool,
    ) -> Result<(Login, i64), Error> {
        let pk_token = self
            .pk_token
            .with_refreshed(&tokens.id_token)
            .map_err(Error::PkToken)?;
        let keys = jwks.fetch(&provider.issuer).map_err(Error::Jwks)?;
        let check = ProviderCheck {
            issuer: &provider.issuer,
            client_id: &provider.client_id,
            expiry: ExpiryPolicy::OidcRefreshed,
        };
        let expires = pk_token
            .verify_refreshed_token(&check, &keys)
            .map_err(Error::PkToken)?;
        let access_token = if send_access_token {
            Some(tokens.access_token.clone().ok_or(Error::NoAccessToken)?)
        } else {
            None
        };
        let cert = certificate(&self.key, &pk_token, &self.principals, access_token)?;
        let login = Login {
            key: self.key.clone(),
            cert,
            pk_token,
            refresh_token: tokens.refresh_token.clone(),
            principals: self.principals.clone(),
        };
        Ok((login, expires))
    }
}

/// Refreshes `login` before each ID token expires, for as long as the OP agrees, calling
/// `on_refresh` with each new login (to write its files). Returns only with the reason it
/// stopped. `now` and `sleep` are the clock (tests pass their own).
#[allow(clippy::too_many_arguments)]
pub fn keep_refreshed(
    login: Login,
    http: &dyn OidcHttp,
    jwks: &dyn JwksFetcher,
    provider: &ProviderSpec,
    send_access_token: bool,
    settings: &RefreshSettings,
    now: &dyn Fn() -> SystemTime,
    sleep: &mut dyn FnMut(Duration),
    on_refresh: &mut dyn FnMut(Refreshed<'_>) -> Result<(), Error>,
) -> Result<Infallible, Error> {
    let unix = || {
        now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    let mut login = login;
    let mut expires = login
        .pk_token
        .claims()
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    loop {
        let Some(refresh_token) = login.refresh_token.clone() else {
            return Err(Error::NoRefreshToken);
        };
        sleep(refresh_delay(unix(), expires, settings.lead));
        let mut attempt = 0;
        let tokens = loop {
            match opk_oidc::refresh_tokens(http, provider, &refresh_token) {
                Ok(t) => break t,
                Err(e) if e.is_final_refusal() || attempt >= settings.retries => {
                    return Err(Error::RefreshFailed {
                        attempts: attempt + 1,
                        source: e,
                    });
                }
                Err(_) => {
                    sleep(settings.backoff.saturating_mul(1 << attempt.min(16)));
                    attempt += 1;
                }
            }
        };
        let (next, next_expires) = login.refreshed(&tokens, provider, jwks, send_access_token)?;
        login = next;
        expires = next_expires;
        on_refresh(Refreshed {
            login: &login,
            expires,
        })?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_comes_a_minute_early_or_halfway_and_never_at_once() {
        let lead = Duration::from_secs(60);
        assert_eq!(refresh_delay(1000, 4600, lead), Duration::from_secs(3540));
        assert_eq!(refresh_delay(1000, 1010, lead), Duration::from_secs(5));
        assert_eq!(refresh_delay(1000, 1001, lead), Duration::from_secs(1));
        assert_eq!(refresh_delay(1000, 900, lead), Duration::from_secs(1));
    }
}
