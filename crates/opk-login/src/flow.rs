//! The login itself: key, commitment, OIDC flow, PK Token, self-check, certificate.

use std::path::Path;
use std::time::{Duration, SystemTime};

use opk_jwks::JwksFetcher;
use opk_oidc::{LoginOptions, OidcHttp, ProviderSpec, Tokens};
use opk_pktoken::{Cic, ExpiryPolicy, PkToken, ProviderCheck, UserSigner};
use opk_sshcert::{CertRequest, EphemeralKey, KeyAlgorithm, OpkCert, WILDCARD_PRINCIPAL};

use crate::Error;
use crate::config::ProviderEntry;
use crate::keyfiles::{self, KEY_COMMENT, KeyLocation};

/// What to do.
pub struct LoginRequest<'a> {
    /// The OP and client.
    pub provider: &'a ProviderSpec,
    /// Key type.
    pub key_algorithm: KeyAlgorithm,
    /// Browser and redirect settings.
    pub oidc: &'a LoginOptions,
    /// Certificate principals as given to `--principals`: `None` means [`WILDCARD_PRINCIPAL`];
    /// empty entries are dropped (`--principals ""` means none, as in opkssh).
    pub principals: Option<Vec<String>>,
    /// Put the access token into `openpubkey-act` (lets servers call userinfo).
    pub send_access_token: bool,
}

/// A finished login, not yet written anywhere.
pub struct Login {
    /// The ephemeral key.
    pub key: EphemeralKey,
    /// The certificate carrying the PK Token.
    pub cert: OpkCert,
    /// The PK Token.
    pub pk_token: PkToken,
    /// The OP's refresh token, for `--auto-refresh`.
    pub(crate) refresh_token: Option<String>,
    /// The certificate's principals, kept for the certificates of refreshed tokens.
    pub(crate) principals: Vec<String>,
}

impl Login {
    /// `email sub iss aud` values for the summary opkssh prints.
    pub fn identity(&self) -> [String; 4] {
        identity_of(&self.pk_token)
    }

    /// `--print-id-token`'s text, as opkssh prints it: `id_token:` and the ID token's claims as
    /// JSON indented by two spaces. Every claim is shown (opkssh shows a fixed subset, without
    /// `aud` or custom claims such as groups, which are what one looks for when a policy does not
    /// match); keys are sorted.
    pub fn id_token_text(&self) -> String {
        let claims = serde_json::to_string_pretty(self.pk_token.claims())
            .unwrap_or_else(|_| "{}".to_owned());
        format!("id_token:\n{claims}")
    }

    /// The private key in OpenSSH format.
    pub fn private_key_pem(&self) -> Result<String, Error> {
        Ok(self.key.to_openssh_pem(KEY_COMMENT)?.to_string())
    }

    /// Writes key and certificate to `loc` atomically.
    pub fn write(&self, loc: &KeyLocation) -> Result<(), Error> {
        let pem = self.key.to_openssh_pem(KEY_COMMENT)?;
        keyfiles::write_pair(loc, &pem, &self.cert.to_line(Some(&loc.cert_comment)))
    }
}

/// `email sub iss aud` of a PK Token; `aud` joined with commas when it is a list.
pub(crate) fn identity_of(pk_token: &PkToken) -> [String; 4] {
    let c = pk_token.claims();
    let s = |n: &str| {
        c.get(n)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let aud = match c.get("aud") {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(","),
        Some(v) => v.as_str().unwrap_or_default().to_owned(),
        None => String::new(),
    };
    [s("email"), s("sub"), s("iss"), aud]
}

/// The OIDC settings of `provider` (opkssh's defaults: `prompt=consent`, so a refresh token is
/// issued, and `access_type=offline`, on opkssh's redirect ports).
pub fn oidc_options(
    provider: &ProviderEntry,
    open_browser: bool,
    timeout: Duration,
) -> LoginOptions {
    LoginOptions {
        open_browser,
        timeout,
        prompt: provider.prompt.clone(),
        access_type: provider.access_type.clone(),
        redirect_ports: provider.redirect_ports.clone(),
        remote_redirect_uri: provider.remote_redirect_uri.clone(),
        ..LoginOptions::default()
    }
}

/// Runs the login: `http` talks to the OP, `jwks` fetches its keys for the self-check, `now` is
/// the clock the self-check uses (read after the browser came back). `show_url` always receives
/// the authorization URL (also when a browser opens).
///
/// Principals that verify would refuse (docs/hazards.md H-1) fail before anything else, rather
/// than at the first ssh.
pub fn login(
    req: &LoginRequest<'_>,
    http: &dyn OidcHttp,
    jwks: &(dyn JwksFetcher + Sync),
    now: &dyn Fn() -> SystemTime,
    show_url: &mut dyn FnMut(&str),
) -> Result<Login, Error> {
    login_with(req, jwks, now, &mut |nonce| {
        opk_oidc::login_with_browser(http, req.provider, nonce, req.oidc, show_url)
    })
}

/// The OIDC flow of a login: given the nonce (the CIC hash), returns the OP's tokens.
pub type TokenFlow<'a> = dyn FnMut(&str) -> Result<Tokens, opk_oidc::Error> + 'a;

/// [`login`] with another OIDC flow, e.g. the device authorization grant:
/// `|nonce| opk_oidc::login_with_device(http, provider, nonce, timeout, ui)`.
pub fn login_with(
    req: &LoginRequest<'_>,
    jwks: &(dyn JwksFetcher + Sync),
    now: &dyn Fn() -> SystemTime,
    flow: &mut TokenFlow<'_>,
) -> Result<Login, Error> {
    let principals = match &req.principals {
        None => vec![WILDCARD_PRINCIPAL.to_owned()],
        Some(list) => list.iter().filter(|p| !p.is_empty()).cloned().collect(),
    };
    for p in &principals {
        opk_policy::check_principal(p).map_err(Error::Principal)?;
    }

    let key = EphemeralKey::generate(req.key_algorithm)?;
    let signer = match req.key_algorithm {
        KeyAlgorithm::EcdsaP256 => {
            UserSigner::from_p256_scalar(&key.secret_bytes()).map_err(Error::Signer)?
        }
        KeyAlgorithm::Ed25519 => UserSigner::from_ed25519_seed(&key.secret_bytes()),
    };
    let mut rz = [0u8; 32];
    getrandom::fill(&mut rz).map_err(Error::Random)?;
    let public = signer.public_jwk().map_err(Error::Signer)?;
    let cic = Cic::new(&public, rz).map_err(Error::Signer)?;

    // The OP's keys for the self-check are fetched while the user is in the browser, so only the
    // code exchange stands between the callback and the key files.
    let (tokens, prefetched) = std::thread::scope(|scope| {
        let prefetch = scope.spawn(|| jwks.fetch(&req.provider.issuer));
        let tokens = flow(&cic.hash());
        (tokens, prefetch.join())
    });
    let tokens = tokens?;
    let pk_token = PkToken::issue(&tokens.id_token, &cic, &signer).map_err(Error::PkToken)?;

    // Check the token exactly as `opk verify` will (default 24h policy, as opkssh's client does),
    // so a misconfigured OP fails here and not at the first ssh. Fetched again when the early
    // fetch failed or lacks the token's key (the OP rotated its keys during the login).
    let keys = match prefetched {
        Ok(Ok(keys)) if pk_token.op_kid().is_none_or(|kid| keys.has_kid(kid)) => keys,
        _ => jwks.fetch(&req.provider.issuer).map_err(Error::Jwks)?,
    };
    let now = now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let check = ProviderCheck {
        issuer: &req.provider.issuer,
        client_id: &req.provider.client_id,
        expiry: ExpiryPolicy::Hours24,
    };
    pk_token
        .verify(&check, &keys, now)
        .map_err(Error::PkToken)?;

    let access_token = if req.send_access_token {
        Some(tokens.access_token.clone().ok_or(Error::NoAccessToken)?)
    } else {
        None
    };
    let cert = certificate(&key, &pk_token, &principals, access_token)?;
    Ok(Login {
        key,
        cert,
        pk_token,
        refresh_token: tokens.refresh_token,
        principals,
    })
}

/// The self-signed certificate for `key` carrying `pk_token` (key ID: the token's email).
pub(crate) fn certificate(
    key: &EphemeralKey,
    pk_token: &PkToken,
    principals: &[String],
    access_token: Option<String>,
) -> Result<OpkCert, Error> {
    Ok(OpkCert::issue(
        &CertRequest {
            key_id: pk_token.claim_str("email").unwrap_or_default().to_owned(),
            principals: principals.to_vec(),
            pk_token: pk_token.to_compact(),
            access_token,
        },
        key,
    )?)
}

/// Where a login with `provider` and `alg` writes, given the user's home (opkssh's precedence:
/// `-i`, then a configured `~/.ssh/opkssh`, then the default names in `~/.ssh`).
pub fn key_location(
    home: &Path,
    explicit: Option<&Path>,
    alg: KeyAlgorithm,
    provider: &ProviderSpec,
) -> Result<KeyLocation, Error> {
    keyfiles::choose(home, explicit, alg, &provider.issuer, &provider.client_id)
}

/// Checks before the browser step that `loc` can be written (see `--force`): an `explicit`
/// (`-i`) key that opk did not write is refused unless `force`, and the directory must be
/// writable.
pub fn check_location(loc: &KeyLocation, explicit: bool, force: bool) -> Result<(), Error> {
    keyfiles::check_destination(loc, explicit, force)
}
