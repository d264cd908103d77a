//! `opk login`: generate a fresh key, sign in to the OP with a nonce that commits to it, turn
//! the ID token into a PK Token, check that token as a server would, and write an SSH key plus a
//! certificate carrying the token where stock `ssh` finds them.
#![forbid(unsafe_code)]

mod keyfiles;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use keyfiles::KEY_COMMENT;
pub use keyfiles::KeyLocation;
use opk_jwks::JwksFetcher as _;
use opk_oidc::{LoginOptions, ProviderSpec};
use opk_pktoken::{Cic, ExpiryPolicy, Jwks, PkToken, ProviderCheck, UserSigner};
use opk_sshcert::{CertRequest, EphemeralKey, KeyAlgorithm, OpkCert};

use opk_sshcert::WILDCARD_PRINCIPAL;

/// Errors of `opk login`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The OIDC flow failed.
    #[error(transparent)]
    Oidc(#[from] opk_oidc::Error),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] opk_http::Error),
    /// The OP's keys could not be fetched for the self-check.
    #[error("cannot fetch the OP's signing keys to check the new PK Token: {0}")]
    Jwks(#[from] opk_jwks::Error),
    /// The PK Token does not verify (the OP or the flow misbehaved).
    #[error("the OP's ID token does not make a valid PK Token: {0}")]
    PkToken(#[from] opk_pktoken::Error),
    /// Key or certificate construction failed.
    #[error(transparent)]
    Cert(#[from] opk_sshcert::Error),
    /// No randomness from the OS.
    #[error("the operating system provided no randomness: {0}")]
    Random(getrandom::Error),
    /// `--send-access-token` but the OP returned none.
    #[error("--send-access-token was given but the OP returned no access token")]
    NoAccessToken,
    /// Every default key name holds a key that is not ours.
    #[error("no default ssh key file free for openpubkey in {0}: pass -i PATH to choose one")]
    NoFreeKeyFile(PathBuf),
    /// Writing a file failed.
    #[error(transparent)]
    Files(#[from] opk_files::Error),
    /// Creating or reading a file around the write failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What to do.
pub struct LoginRequest<'a> {
    /// The OP and client.
    pub provider: &'a ProviderSpec,
    /// Key type.
    pub key_algorithm: KeyAlgorithm,
    /// Browser and redirect settings.
    pub oidc: &'a LoginOptions,
    /// Certificate principals; `None` means [`WILDCARD_PRINCIPAL`].
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
}

impl Login {
    /// `email sub iss aud` values for the summary opkssh prints.
    pub fn identity(&self) -> [String; 4] {
        let c = self.pk_token.claims();
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

/// Runs the login. `show_url` always receives the authorization URL (also when a browser opens).
pub fn login(req: &LoginRequest<'_>, show_url: &mut dyn FnMut(&str)) -> Result<Login, Error> {
    let key = EphemeralKey::generate(req.key_algorithm)?;
    let signer = match req.key_algorithm {
        KeyAlgorithm::EcdsaP256 => UserSigner::from_p256_scalar(&key.secret_bytes())?,
        KeyAlgorithm::Ed25519 => UserSigner::from_ed25519_seed(&key.secret_bytes()),
    };
    let mut rz = [0u8; 32];
    getrandom::fill(&mut rz).map_err(Error::Random)?;
    let cic = Cic::new(&signer.public_jwk()?, rz)?;

    // One HTTP client (one CA-bundle parse) for the OIDC flow and the JWKS fetch below.
    let fetcher = opk_jwks::HttpJwksFetcher::new(opk_http::HttpOptions::default());
    // A client that cannot be built (e.g. unreadable SSL_CERT_FILE) is an HTTP error, not a JWKS one.
    let http = fetcher.client().map_err(|e| match e {
        opk_jwks::Error::Http(e) => Error::Http(e),
        other => Error::Jwks(other),
    })?;
    let tokens = opk_oidc::login_with_browser(http, req.provider, &cic.hash(), req.oidc, show_url)?;
    let pk_token = PkToken::issue(&tokens.id_token, &cic, &signer)?;

    // Check the token exactly as `opk verify` will (default 24h policy, as opkssh's client does),
    // so a misconfigured OP fails here and not at the first ssh.
    let jwks = Jwks::from_json(&fetcher.fetch(&req.provider.issuer)?)?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let check = ProviderCheck {
        issuer: &req.provider.issuer,
        client_id: &req.provider.client_id,
        expiry: ExpiryPolicy::Hours24,
    };
    pk_token.verify(&check, &jwks, now)?;

    let access_token = if req.send_access_token {
        Some(tokens.access_token.clone().ok_or(Error::NoAccessToken)?)
    } else {
        None
    };
    let cert = OpkCert::issue(
        &CertRequest {
            key_id: pk_token.claim_str("email").unwrap_or_default().to_owned(),
            principals: req
                .principals
                .clone()
                .unwrap_or_else(|| vec![WILDCARD_PRINCIPAL.to_owned()]),
            pk_token: pk_token.to_compact(),
            access_token,
        },
        &key,
    )?;
    Ok(Login {
        key,
        cert,
        pk_token,
    })
}

/// Where a login for this provider would write, given the user's home.
pub fn default_location(
    home: &Path,
    explicit: Option<&Path>,
    login: &Login,
) -> Result<KeyLocation, Error> {
    let [_, _, iss, aud] = login.identity();
    keyfiles::choose(home, explicit, login.key.algorithm(), &iss, &aud)
}
