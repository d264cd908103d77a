//! `opk verify %u %k %t`: sshd's `AuthorizedKeysCommand`, with opkssh's contract — one line
//! `cert-authority,principals="…" <type> <key>` and exit 0, or nothing on stdout and exit 1.
//!
//! Order of checks: the offered key (cheap, and sshd calls us for every key a client offers),
//! then the server files, the PK Token (CIC, issuer, audience, OP signature via the JWKS cache,
//! commitment, expiry), the binding of the certified key to the token, the policy, and finally the
//! principals echoed into the output line.
#![forbid(unsafe_code)]

mod error;
mod files;
mod log;
mod server_config;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use error::Error;
pub use log::Log;
use opk_jwks::{JwksCache, JwksFetcher, Source};
use opk_pktoken::{Jwk, PkToken, ProviderCheck};
use opk_sshcert::{OpkCert, PublicKey};
pub use server_config::ConfigProblem;

/// Where the server's files are. Defaults are opkssh's, so an opkssh host switches by changing
/// the binary path in sshd_config only.
#[derive(Clone, Debug)]
pub struct ServerPaths {
    /// `/etc/opk/providers`.
    pub providers: PathBuf,
    /// `/etc/opk/auth_id`.
    pub auth_id: PathBuf,
    /// Whether `<home>/.opk/auth_id` of the target user is read too.
    pub home_policy: bool,
    /// passwd file for home directories (`/etc/passwd`).
    pub passwd: PathBuf,
    /// JWKS cache directory; `None` disables the cache.
    pub jwks_cache: Option<PathBuf>,
    /// Log file (`/var/log/opkssh.log`); `None` logs to stderr.
    pub log: Option<PathBuf>,
    /// opkssh's server config (`/etc/opk/config.yml`); `None` skips it.
    pub config: Option<PathBuf>,
}

impl Default for ServerPaths {
    fn default() -> Self {
        Self {
            providers: "/etc/opk/providers".into(),
            auth_id: "/etc/opk/auth_id".into(),
            home_policy: true,
            passwd: "/etc/passwd".into(),
            jwks_cache: Some("/var/cache/opk/jwks".into()),
            log: Some("/var/log/opkssh.log".into()),
            config: Some("/etc/opk/config.yml".into()),
        }
    }
}

/// sshd's `%u %k %t` and anything after them.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// `%u`: the account being logged in to.
    pub principal: &'a str,
    /// `%k`: base64 of the offered key or certificate.
    pub key_b64: &'a str,
    /// `%t`: the offered key's type.
    pub key_type: &'a str,
}

/// A successful decision.
#[derive(Clone, Debug)]
pub struct Allowed {
    /// The single authorized_keys line to print.
    pub line: String,
    /// Who was let in, for the log.
    pub summary: String,
}

/// Runs the whole check. `log` receives the details; the returned error is the one-line reason.
pub fn verify(
    paths: &ServerPaths,
    req: &Request<'_>,
    now: SystemTime,
    fetcher: &dyn JwksFetcher,
    log: &mut Log,
) -> Result<Allowed, Error> {
    let cert = OpkCert::parse(req.key_type, req.key_b64)?;
    if !cert.is_user_cert() {
        return Err(Error::NotUserCert);
    }
    if !cert.is_self_signed() {
        return Err(Error::NotSelfSigned);
    }
    let pkt = PkToken::from_compact(cert.pk_token().ok_or(Error::NoPkToken)?)?;

    if let Some(config) = &paths.config {
        check_server_config(config, log)?;
    }
    let providers_text = files::read_checked(&paths.providers, files::Owner::System)?;
    let providers =
        opk_policy::Providers::parse(&providers_text).map_err(|source| Error::Policy {
            path: paths.providers.clone(),
            error: source,
        })?;
    for problem in providers.problems() {
        log.line(&format!(
            "config problem in {}: {problem}",
            paths.providers.display()
        ));
    }
    let issuer = pkt.issuer();
    let provider = providers.find(issuer).ok_or_else(|| Error::UnknownIssuer {
        issuer: issuer.to_owned(),
        path: paths.providers.clone(),
        known: providers
            .rows()
            .iter()
            .map(|r| r.issuer.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    opk_http::check_url(issuer).map_err(|_| Error::IssuerScheme(issuer.to_owned()))?;

    let cache = JwksCache::new(opk_jwks::CacheOptions {
        dir: paths.jwks_cache.clone(),
        ..Default::default()
    });
    let outcome = cache.get(issuer, pkt.op_kid(), now, fetcher)?;
    for warning in &outcome.warnings {
        log.line(&format!("jwks cache: {warning}"));
    }
    if outcome.source == Source::StaleAfterError {
        log.line(&format!(
            "using a stale JWKS for {issuer}: the OP could not be reached"
        ));
    }
    let jwks = outcome.jwks;
    let unix_now = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64;
    let check = ProviderCheck {
        issuer: &provider.issuer,
        client_id: &provider.client_id,
        expiry: provider.expiry,
    };
    pkt.verify(&check, &jwks, unix_now)?;

    if cert_key_jwk(&cert.public_key())?.thumbprint() != pkt.cic().upk().thumbprint() {
        return Err(Error::KeyBinding);
    }

    let rows = load_policy(paths, req.principal, log)?;
    let decision = opk_policy::decide(&rows, req.principal, pkt.claims(), None);
    for warning in &decision.warnings {
        log.line(&format!("policy: {warning}"));
    }
    if !decision.allowed {
        let reason = decision
            .deny_reason
            .unwrap_or_else(|| "denied by policy".to_owned());
        return Err(Error::Denied(format!(
            "{reason} at {}",
            policy_paths(paths, req.principal)
        )));
    }

    for principal in cert.principals() {
        opk_policy::check_principal(principal)
            .map_err(|_| Error::BadPrincipal(principal.clone()))?;
    }
    let ca = cert.signature_key();
    let ca_line = ca.to_openssh_line()?;
    let line = if cert.principals().is_empty() {
        format!("cert-authority {ca_line}")
    } else {
        format!(
            "cert-authority,principals=\"{}\" {ca_line}",
            cert.principals().join(",")
        )
    };
    let summary = format!(
        "allowed {} (sub={}, iss={issuer}) as {} by {}",
        pkt.claim_str("email").unwrap_or("<no email>"),
        pkt.claim_str("sub").unwrap_or_default(),
        req.principal,
        decision
            .matched_line
            .map_or_else(|| "policy".to_owned(), |l| format!("auth_id line {l}")),
    );
    Ok(Allowed { line, summary })
}

/// The server config, if any: logs what is ignored, refuses deny lists opk cannot enforce yet.
fn check_server_config(path: &Path, log: &mut Log) -> Result<(), Error> {
    let Some(config) = server_config::load(path)? else {
        return Ok(());
    };
    for (key, line) in &config.unknown_keys {
        log.line(&format!(
            "config problem in {}: unknown key {key:?} at line {line} ignored",
            path.display()
        ));
    }
    if let Some(line) = config.env_vars_line.filter(|_| !config.env_vars.is_empty()) {
        log.line(&format!(
            "config problem in {}: env_vars at line {line} are not applied by this opk",
            path.display()
        ));
    }
    for (key, list) in [
        ("deny_emails", &config.deny_emails),
        ("deny_users", &config.deny_users),
    ] {
        if !list.is_empty() {
            return Err(Error::UnsupportedConfig {
                path: path.to_owned(),
                key,
            });
        }
    }
    Ok(())
}

fn cert_key_jwk(key: &PublicKey) -> Result<Jwk, Error> {
    Ok(match key {
        PublicKey::EcdsaP256 { x, y } => Jwk::ec_p256(*x, *y)?,
        PublicKey::Ed25519(x) => Jwk::ed25519(*x)?,
    })
}

/// The system policy plus the target user's home policy (rows for that user only). Like
/// opkssh, an unreadable system file is only a warning as long as some policy was read.
fn load_policy(
    paths: &ServerPaths,
    principal: &str,
    log: &mut Log,
) -> Result<Vec<opk_policy::AuthIdRow>, Error> {
    let mut rows = Vec::new();
    let mut first_error = None;
    match files::read_checked(&paths.auth_id, files::Owner::System) {
        Ok(text) => rows.extend(read_auth_id(&paths.auth_id, &text, log)?.into_rows()),
        Err(e) => {
            log.line(&format!("system policy skipped: {e}"));
            first_error = Some(e);
        }
    }
    if paths.home_policy {
        match opk_files::lookup_account(&paths.passwd, principal) {
            Some(account) => {
                let path = account.home.join(".opk/auth_id");
                match files::read_checked(&path, files::Owner::User(account.uid)) {
                    Ok(text) => match read_auth_id(&path, &text, log) {
                        Ok(auth_id) => rows.extend(auth_id.for_home_of(principal).into_rows()),
                        Err(e) => log.line(&format!("home policy skipped: {e}")),
                    },
                    Err(Error::Read { error: source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => log.line(&format!("home policy skipped: {e}")),
                }
            }
            None => log.line(&format!(
                "home policy skipped: no passwd entry for {principal:?}"
            )),
        }
    }
    match (rows.is_empty(), first_error) {
        (true, Some(e)) => Err(e),
        _ => Ok(rows),
    }
}

fn read_auth_id(path: &Path, text: &[u8], log: &mut Log) -> Result<opk_policy::AuthId, Error> {
    let auth_id = opk_policy::AuthId::parse(text).map_err(|source| Error::Policy {
        path: path.to_owned(),
        error: source,
    })?;
    for problem in auth_id.problems() {
        log.line(&format!("config problem in {}: {problem}", path.display()));
    }
    Ok(auth_id)
}

fn policy_paths(paths: &ServerPaths, principal: &str) -> String {
    let mut out = paths.auth_id.display().to_string();
    if paths.home_policy {
        out.push_str(&format!(" and ~{principal}/.opk/auth_id"));
    }
    out
}
