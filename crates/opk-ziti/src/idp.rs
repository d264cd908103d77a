//! zssh's own browser sign-in for the overlay (`-o`): authorization code + PKCE at the IdP over
//! zssh's loopback redirect (`http://localhost:<port>/auth/callback`, scopes `openid profile
//! email`), the token then presented to the controller as its external-JWT factor.

use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding as _};

use crate::Error;

/// zssh's default client id.
pub const ZSSH_CLIENT_ID: &str = "openziti-client";
/// zssh's default loopback callback port.
pub const ZSSH_CALLBACK_PORT: u16 = 63275;
/// zssh's redirect path.
const CALLBACK_PATH: &str = "/auth/callback";

/// Where and how to sign in.
#[derive(Clone)]
pub struct IdpLogin {
    /// The IdP's issuer (discovery at `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// The client id registered for the overlay.
    pub client_id: String,
    /// A confidential client's secret; none means a public client with PKCE (zssh turns PKCE
    /// off with a secret; opk keeps it on, which confidential clients accept too).
    pub client_secret: Option<String>,
    /// The loopback port of the redirect URI.
    pub callback_port: u16,
    /// More authorize parameters (zssh's `-l param=value`, every one of them).
    pub extra_params: Vec<(String, String)>,
    /// Launch the system browser (the URL is shown either way).
    pub open_browser: bool,
    /// How long to wait for the browser to come back.
    pub timeout: Duration,
}

impl std::fmt::Debug for IdpLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpLogin")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("callback_port", &self.callback_port)
            .finish_non_exhaustive()
    }
}

/// Signs in at the IdP in a browser (`show_url` gets the authorize URL) and returns the token
/// for the controller: the access token when it is a JWT, as zssh sends it, else the ID token
/// (an opaque access token is nothing the controller can verify; the ID token's audience is the
/// client id).
pub fn idp_token(login: &IdpLogin, show_url: &mut dyn FnMut(&str)) -> Result<String, Error> {
    let http = opk_http::HttpClient::new(opk_http::HttpOptions::default())?;
    let provider = opk_oidc::ProviderSpec {
        issuer: login.issuer.clone(),
        client_id: login.client_id.clone(),
        client_secret: login.client_secret.clone(),
        scopes: ["openid", "profile", "email"].map(str::to_owned).to_vec(),
    };
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|_| crate::ProtocolError::Random)?;
    let options = opk_oidc::LoginOptions {
        open_browser: login.open_browser,
        redirect_ports: vec![login.callback_port],
        timeout: login.timeout,
        callback_path: CALLBACK_PATH.to_owned(),
        extra_params: login.extra_params.clone(),
        ..opk_oidc::LoginOptions::default()
    };
    let tokens = opk_oidc::login_with_browser(
        &http,
        &provider,
        &Base64UrlUnpadded::encode_string(&nonce),
        &options,
        show_url,
    )?;
    Ok(token_for_controller(tokens))
}

fn token_for_controller(tokens: opk_oidc::Tokens) -> String {
    match tokens.access_token {
        Some(access) if is_jwt(&access) => access,
        _ => tokens.id_token,
    }
}

/// Three base64url parts whose first is a JSON object (a JWS header).
fn is_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(_), Some(_), None) => Base64UrlUnpadded::decode_vec(h)
            .ok()
            .and_then(|h| serde_json::from_slice::<serde_json::Map<_, _>>(&h).ok())
            .is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(access: Option<&str>) -> opk_oidc::Tokens {
        opk_oidc::Tokens {
            id_token: "id.token.here".into(),
            access_token: access.map(str::to_owned),
            refresh_token: None,
        }
    }

    #[test]
    fn a_jwt_access_token_goes_as_zssh_sends_it_else_the_id_token() {
        let header = Base64UrlUnpadded::encode_string(br#"{"alg":"RS256"}"#);
        let jwt = format!("{header}.e30.c2ln");
        assert_eq!(token_for_controller(tokens(Some(&jwt))), jwt);
        assert_eq!(
            token_for_controller(tokens(Some("opaque-WXYZ"))),
            "id.token.here"
        );
        assert_eq!(token_for_controller(tokens(Some("a.b.c"))), "id.token.here");
        assert_eq!(token_for_controller(tokens(None)), "id.token.here");
    }
}
