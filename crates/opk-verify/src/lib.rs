//! `opk verify %u %k %t`: sshd's `AuthorizedKeysCommand`, with opkssh's contract — one line
//! `cert-authority,principals="…" <type> <key>` and exit 0, or nothing on stdout and exit 1.
//!
//! Order of checks: the offered key (cheap, and sshd calls us for every key a client offers),
//! then the server files, the PK Token (CIC, issuer, audience, OP signature via the JWKS cache,
//! commitment, expiry), the binding of the certified key to the token, the policy, and finally the
//! principals echoed into the output line.
#![forbid(unsafe_code)]

mod audit;
mod error;
mod files;
mod log;
mod plugins;
mod readhome;
mod server_config;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opk_jwks::{JwksCache, JwksFetcher, Source};
use opk_pktoken::{Jwk, PkToken, ProviderCheck};
use opk_policy::ProviderRow;
use opk_sshcert::{OpkCert, PublicKey};

pub use audit::Subject;
pub use error::{Error, PolicyFiles, SHOWN_CHARS, SHOWN_ISSUERS, UnsafeFile, UnsafeHomeFile};
pub use log::{Log, escape_controls};
pub use readhome::SudoReadhome;
pub use server_config::ConfigProblem;

/// Entry points for the fuzz targets in `fuzz/` and the corpus smoke test
/// (`crates/opk-cli/tests/fuzz_corpus.rs`).
pub mod fuzzing {
    /// Parses `data` as `/etc/opk/config.yml` (opkssh's schema and opk's `email_verified`) and
    /// asks for an issuer's `email_verified`; must never panic, whatever `data` is.
    pub fn fuzz_server_config(data: &[u8]) {
        if let Ok(config) = crate::server_config::parse(data) {
            let _ = config.email_verified_for("https://issuer.example");
            let _ = config.deny.check("root", &serde_json::Map::new());
        }
    }

    /// Parses `data` as a policy plugin's `policy.d/*.yml`; must never panic.
    pub fn fuzz_plugin_config(data: &[u8]) {
        let _ = crate::server_config::parse_plugin(data);
    }
}

/// Where the server's files are. opk-cli fills it from flags whose defaults are opkssh's paths,
/// so an opkssh host switches by changing the binary path in sshd_config only.
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
    /// How to read a home policy verify may not open itself (`sudo -n opk readhome`); `None`
    /// skips such a policy.
    pub home_via_sudo: Option<SudoReadhome>,
    /// JWKS cache directory; `None` disables the cache.
    pub jwks_cache: Option<PathBuf>,
    /// Log file (`/var/log/opkssh.log`); `None` logs to stderr.
    pub log: Option<PathBuf>,
    /// opkssh's server config (`/etc/opk/config.yml`); `None` skips it.
    pub config: Option<PathBuf>,
    /// Policy plugin directory (`/etc/opk/policy.d`); `None` runs no plugins.
    pub plugins: Option<PathBuf>,
    /// How long one plugin may take before it is killed and counts as not allowing.
    pub plugin_timeout: Duration,
    /// A plugin still running at this instant is killed (with what it started) even within
    /// its timeout: opk-cli sets it just before its whole-verify deadline, so that no plugin
    /// outlives a verify its watchdog ended.
    pub plugins_until: Option<std::time::Instant>,
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
    /// sshd tokens after `%t` (e.g. `%C`), for plugins (`OPKSSH_PLUGIN_EXTRA_ARGS`).
    pub extra_args: &'a [String],
}

/// A successful decision.
#[derive(Clone, Debug)]
pub struct Allowed {
    /// The single authorized_keys line to print.
    pub line: String,
    /// Who was let in, for the log.
    pub summary: String,
    /// What allowed it: `auth_id line N`, `policy plugin <file>`.
    pub rule: String,
}

/// Runs the whole check. `log` receives the details; the returned error is the one-line reason.
pub fn verify(
    paths: &ServerPaths,
    req: &Request<'_>,
    now: SystemTime,
    fetcher: &dyn JwksFetcher,
    log: &mut Log,
) -> Result<Allowed, Error> {
    *log.subject() = Subject::default();
    let (cert, pkt) = parse_offered_key(req).inspect_err(|_| {
        // Only for a refusal of the offered blob itself: hashing the whole 3 KB certificate on
        // every attempt cost verify 7% of its instructions (callgrind).
        log.subject().key_fingerprint = offered_fingerprint(req);
    })?;
    if let Ok(blob) = cert.public_key().to_ssh_blob() {
        log.subject().key_fingerprint = Some(audit::fingerprint(&blob));
    }
    log.subject().issuer = Some(pkt.issuer().to_owned());
    log.subject().sub = pkt.claim_str("sub").map(str::to_owned);
    log.subject().email = pkt.claim_str("email").map(str::to_owned);
    let config = match &paths.config {
        Some(path) => load_server_config(path, log)?,
        None => server_config::ServerConfig::default(),
    };
    // As opkssh exports them before any network call; passed on rather than set process-wide.
    fetcher.set_env(&config.env_vars);
    let provider = find_provider(&paths.providers, pkt.issuer(), log)?;
    let userinfo_endpoint = verify_pk_token(&pkt, &provider, paths, now, fetcher, log)?;
    check_key_binding(&cert, &pkt)?;
    log.subject().token_verified = true;
    // Deny lists after the token is verified, as opkssh: before that, a denial would tell an
    // unauthenticated caller which identities and accounts are listed.
    if let Some(denial) = config.deny.check(req.principal, pkt.claims())
        && let Some(path) = &paths.config
    {
        return Err(Error::DenyListed {
            path: path.clone(),
            denial,
        });
    }
    let userinfo = cert
        .access_token()
        .and_then(|token| userinfo(fetcher, &pkt, userinfo_endpoint.as_deref(), token, log));
    let userinfo_json = userinfo
        .as_ref()
        .map(|u| serde_json::Value::from(u.clone()).to_string());
    // Plugins after the deny lists and before the rows, as opkssh: they can only add access.
    let plugin = paths.plugins.as_deref().and_then(|dir| {
        let plugins = plugins::Plugins {
            dir,
            timeout: paths.plugin_timeout,
            until: paths.plugins_until,
            env_vars: &config.env_vars,
        };
        let plugin_req = opk_policy::PluginRequest {
            principal: req.principal,
            key_b64: req.key_b64,
            key_type: req.key_type,
            extra_args: req.extra_args,
            pkt: &pkt,
            userinfo: userinfo_json.as_deref(),
        };
        plugins.allowing(&plugin_req, log)
    });
    let rule = match plugin {
        Some(path) => format!("policy plugin {}", path.display()),
        None => match decide(
            paths,
            req.principal,
            &pkt,
            userinfo.as_ref(),
            &config,
            now,
            log,
        )? {
            Some(line) => format!("auth_id line {line}"),
            None => "policy".to_owned(),
        },
    };
    let line = authorized_keys_line(&cert)?;
    let summary = format!(
        "allowed {} (sub={}, iss={}) as {} by {rule}",
        pkt.claim_str("email").unwrap_or("<no email>"),
        pkt.claim_str("sub").unwrap_or_default(),
        pkt.issuer(),
        req.principal,
    );
    Ok(Allowed {
        line,
        summary,
        rule,
    })
}

/// The fingerprint of the blob sshd offered, when it is base64: what the audit record names when
/// the offered key is refused before its certified key is known.
fn offered_fingerprint(req: &Request<'_>) -> Option<String> {
    use base64ct::Encoding as _;
    base64ct::Base64::decode_vec(req.key_b64)
        .ok()
        .map(|blob| audit::fingerprint(&blob))
}

/// `%t %k` as a self-signed opk user certificate and the PK Token it carries. Cheap, and first:
/// sshd calls verify for every key a client offers.
fn parse_offered_key(req: &Request<'_>) -> Result<(OpkCert, PkToken), Error> {
    let cert = OpkCert::parse(req.key_type, req.key_b64).map_err(Error::Cert)?;
    if !cert.is_user_cert() {
        return Err(Error::NotUserCert);
    }
    if !cert.is_self_signed() {
        return Err(Error::NotSelfSigned);
    }
    let pkt =
        PkToken::from_compact(cert.pk_token().ok_or(Error::NoPkToken)?).map_err(Error::PkToken)?;
    Ok((cert, pkt))
}

/// The providers row for `issuer`, whose URL must be https (or loopback http).
fn find_provider(path: &Path, issuer: &str, log: &mut Log) -> Result<ProviderRow, Error> {
    let text = files::read_checked(path, files::Owner::System)?;
    let providers = opk_policy::Providers::parse(&text).map_err(|error| Error::Policy {
        path: path.to_owned(),
        error,
    })?;
    for problem in providers.problems() {
        log.line(&format!("config problem in {}: {problem}", path.display()));
    }
    let provider = providers
        .find(issuer)
        .ok_or_else(|| Error::UnknownIssuer {
            issuer: issuer.to_owned(),
            path: path.to_owned(),
            known: providers.rows().iter().map(|r| r.issuer.clone()).collect(),
        })?
        .clone();
    opk_http::check_url(issuer).map_err(|_| Error::IssuerScheme(issuer.to_owned()))?;
    Ok(provider)
}

/// The PK Token against the provider's row and the OP's keys (JWKS cache, else fetched).
/// Returns the OP's userinfo endpoint when the cache knows it.
fn verify_pk_token(
    pkt: &PkToken,
    provider: &ProviderRow,
    paths: &ServerPaths,
    now: SystemTime,
    fetcher: &dyn JwksFetcher,
    log: &mut Log,
) -> Result<Option<String>, Error> {
    let issuer = pkt.issuer();
    let cache = JwksCache::new(opk_jwks::CacheOptions {
        dir: paths.jwks_cache.clone(),
        ..Default::default()
    });
    let outcome = cache
        .get(issuer, pkt.op_kid(), now, fetcher)
        .map_err(Error::Jwks)?;
    for warning in &outcome.warnings {
        log.line(&format!("jwks cache: {warning}"));
    }
    if outcome.source == Source::StaleAfterError {
        log.line(&format!(
            "using a stale JWKS for {issuer}: the OP could not be reached"
        ));
    }
    let unix_now = unix_secs(now);
    let check = ProviderCheck {
        issuer: &provider.issuer,
        client_id: &provider.client_id,
        expiry: provider.expiry,
    };
    pkt.verify(&check, &outcome.jwks, unix_now)
        .map_err(Error::PkToken)?;
    Ok(outcome.userinfo_endpoint)
}

/// The OP's userinfo for the certificate's access token (`openpubkey-act`), whose claims the
/// policy may match too. As in opkssh, a lookup that fails only loses those claims; so does an
/// answer for another `sub` than the ID token's (openpubkey refuses it).
fn userinfo(
    fetcher: &dyn JwksFetcher,
    pkt: &PkToken,
    endpoint: Option<&str>,
    access_token: &str,
    log: &mut Log,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let info = match fetcher.userinfo(pkt.issuer(), endpoint, access_token) {
        Ok(info) => info,
        Err(e) => {
            log.line(&format!("userinfo skipped: {e}"));
            return None;
        }
    };
    let sub = |m: &serde_json::Map<String, serde_json::Value>| {
        m.get("sub")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let id_sub = pkt.claim_str("sub").map(str::to_owned);
    if id_sub.is_none() || sub(&info) != id_sub {
        log.line(&format!(
            "userinfo skipped: its sub {:?} is not the ID token's {:?}",
            sub(&info).unwrap_or_default(),
            id_sub.unwrap_or_default()
        ));
        return None;
    }
    Some(info)
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64
}

/// The certified key must be the key the PK Token commits to (its CIC `upk`).
fn check_key_binding(cert: &OpkCert, pkt: &PkToken) -> Result<(), Error> {
    let jwk = match cert.public_key() {
        PublicKey::EcdsaP256 { x, y } => Jwk::ec_p256(x, y),
        PublicKey::Ed25519(x) => Jwk::ed25519(x),
    }
    .map_err(Error::PkToken)?;
    if jwk.thumbprint() != pkt.cic().upk().thumbprint() {
        return Err(Error::KeyBinding);
    }
    Ok(())
}

/// The policy's decision for this identity as `principal`; on success, the matching line.
fn decide(
    paths: &ServerPaths,
    principal: &str,
    pkt: &PkToken,
    userinfo: Option<&serde_json::Map<String, serde_json::Value>>,
    config: &server_config::ServerConfig,
    now: SystemTime,
    log: &mut Log,
) -> Result<Option<usize>, Error> {
    let rows = load_policy(paths, principal, log)?;
    let decision = opk_policy::decide(
        &rows,
        principal,
        pkt.claims(),
        userinfo,
        unix_secs(now),
        config.email_verified_for(pkt.issuer()),
    );
    for warning in &decision.warnings {
        log.line(&format!("policy: {warning}"));
    }
    if !decision.allowed {
        let home_of = paths.home_policy.then_some(principal);
        return Err(Error::Denied {
            decision: Box::new(decision),
            files: PolicyFiles::new(&paths.auth_id, home_of),
        });
    }
    Ok(decision.matched_line)
}

/// sshd's line: trust the certificate's own key as a CA for exactly its principals. Every
/// principal is checked first, since it is echoed into an sshd option (hazard H-1 in docs/hazards.md).
fn authorized_keys_line(cert: &OpkCert) -> Result<String, Error> {
    for principal in cert.principals() {
        opk_policy::check_principal(principal)
            .map_err(|_| Error::BadPrincipal(principal.clone()))?;
    }
    let ca = cert.signature_key();
    let ca_line = ca.to_openssh_line().map_err(Error::Cert)?;
    Ok(if cert.principals().is_empty() {
        format!("cert-authority {ca_line}")
    } else {
        format!(
            "cert-authority,principals=\"{}\" {ca_line}",
            cert.principals().join(",")
        )
    })
}

/// The server config (empty when absent); logs the unknown keys it ignores.
fn load_server_config(path: &Path, log: &mut Log) -> Result<server_config::ServerConfig, Error> {
    let Some(config) = server_config::load(path)? else {
        return Ok(server_config::ServerConfig::default());
    };
    for (key, line) in &config.unknown_keys {
        log.line(&format!(
            "config problem in {}: unknown key {key:?} at line {line} ignored",
            path.display()
        ));
    }
    Ok(config)
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
                if let Some(text) = read_home(paths, principal, &path, account.uid, log) {
                    match read_auth_id(&path, &text, log) {
                        Ok(auth_id) => rows.extend(auth_id.for_home_of(principal).into_rows()),
                        Err(e) => log.line(&format!("home policy skipped: {e}")),
                    }
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

/// The home policy's bytes, read directly or, when this user may not open it, through
/// `sudo readhome`; `None` (logged unless the file is simply missing) when there is none to use.
fn read_home(
    paths: &ServerPaths,
    principal: &str,
    path: &Path,
    uid: u32,
    log: &mut Log,
) -> Option<Vec<u8>> {
    match files::read_checked(path, files::Owner::User(uid)) {
        Ok(text) => Some(text),
        Err(Error::Read { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(Error::Read { error, .. })
            if error.kind() == std::io::ErrorKind::PermissionDenied
                && let Some(sudo) = &paths.home_via_sudo =>
        {
            log.line(&format!(
                "home policy {}: not readable by this user ({error}); asking sudo readhome",
                path.display()
            ));
            sudo.read(principal, &paths.passwd)
                .map_err(|e| log.line(&format!("home policy skipped: {e}")))
                .ok()
        }
        Err(e) => {
            log.line(&format!("home policy skipped: {e}"));
            None
        }
    }
}

fn read_auth_id(path: &Path, text: &[u8], log: &mut Log) -> Result<opk_policy::AuthId, Error> {
    let auth_id = opk_policy::AuthId::parse(text).map_err(|error| Error::Policy {
        path: path.to_owned(),
        error,
    })?;
    for problem in auth_id.problems() {
        log.line(&format!("config problem in {}: {problem}", path.display()));
    }
    Ok(auth_id)
}
