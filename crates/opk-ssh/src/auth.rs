//! Which identities to offer, in which order, and why authentication failed.
//!
//! Order: opk certificates first (the files `opk login` writes, found without configuration),
//! then other keys (`-i`, `IdentityFile`, the default `~/.ssh/id_*`), then ssh-agent. opk first
//! because it is why this client exists, and because sshd counts every refused key against
//! `MaxAuthTries`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use russh::MethodKind;
use russh::client::{AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::ssh_key::Certificate;
use russh::keys::{PrivateKeyWithHashAlg, load_secret_key};

use crate::client::Client;
use crate::error::{AuthHint, Error};

/// The certificate extension that carries the PK Token (opkssh's name).
const PKT_EXTENSION: &str = "openpubkey-pkt";
/// opkssh's default expiry policy: 24 h after the ID token's `iat`.
const DEFAULT_MAX_AGE_SECS: u64 = 86_400;
/// Default key names, in OpenSSH's order (the `_sk` names hold plain keys when `opk login` wrote them).
const DEFAULT_KEYS: [&str; 5] = [
    "id_rsa",
    "id_ecdsa",
    "id_ecdsa_sk",
    "id_ed25519",
    "id_ed25519_sk",
];

/// Where identities come from.
#[derive(Debug, Clone, Default)]
pub struct Identities {
    /// Key files from `-i` and `IdentityFile`, in order. A `KEY-cert.pub` next to a key is used
    /// with it; `-i KEY-cert.pub` means that certificate with `KEY`.
    pub files: Vec<PathBuf>,
    /// Certificate files from `CertificateFile`: each is offered with the key file it certifies.
    pub certificates: Vec<PathBuf>,
    /// The user's home: adds `~/.ssh/opkssh/config`'s keys and the default `~/.ssh/id_*`.
    /// `None` with `IdentitiesOnly`-like use (only `files`).
    pub home: Option<PathBuf>,
    /// ssh-agent's socket (`SSH_AUTH_SOCK`); `None` for no agent.
    pub agent: Option<PathBuf>,
}

/// One thing to offer.
#[derive(Debug, Clone)]
enum Candidate {
    /// A key file with a certificate.
    Cert {
        key: PathBuf,
        cert_path: PathBuf,
        cert: Box<Certificate>,
        times: Option<TokenTimes>,
    },
    /// A plain key file.
    Key(PathBuf),
}

/// `iat` / `exp` of an opk certificate's ID token.
#[derive(Debug, Clone, Copy)]
struct TokenTimes {
    iat: Option<u64>,
    exp: Option<u64>,
}

fn cert_path_of(key: &Path) -> PathBuf {
    let mut s = key.as_os_str().to_owned();
    s.push("-cert.pub");
    PathBuf::from(s)
}

/// Reads a certificate file; `None` when it does not exist.
fn read_cert(path: &Path) -> Result<Option<Certificate>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Certificate::from_openssh(text.trim())
            .map(Some)
            .map_err(|source| Error::CertFile {
                path: path.to_owned(),
                source,
            }),
        Err(_) => Ok(None),
    }
}

/// The ID token's times when the certificate carries a PK Token.
fn token_times(cert: &Certificate) -> Option<TokenTimes> {
    let compact = cert.extensions().get(PKT_EXTENSION)?;
    let pkt = opk_pktoken::PkToken::from_compact(compact).ok()?;
    let num = |name: &str| pkt.claims().get(name).and_then(|v| v.as_u64());
    Some(TokenTimes {
        iat: num("iat"),
        exp: num("exp"),
    })
}

/// `IdentityFile` lines of `~/.ssh/opkssh/config` (written by `opk login`/opkssh per provider).
fn opkssh_dir_keys(home: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(home.join(".ssh/opkssh/config")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (k, v) = l.split_once(char::is_whitespace)?;
            k.eq_ignore_ascii_case("IdentityFile")
                .then(|| expand_home(v.trim(), home))
        })
        .collect()
}

/// `~/x` → `home/x`.
pub(crate) fn expand_home(p: &str, home: &Path) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(p),
    }
}

impl Identities {
    /// The ordered, de-duplicated candidates (files only; the agent comes last, at auth time).
    fn candidates(&self) -> Result<Vec<Candidate>, Error> {
        let mut keys: Vec<PathBuf> = Vec::new();
        let mut push = |k: PathBuf| {
            if !keys.contains(&k) {
                keys.push(k);
            }
        };
        for f in &self.files {
            // `-i KEY-cert.pub` names the certificate; the key is beside it.
            match f.to_str().and_then(|s| s.strip_suffix("-cert.pub")) {
                Some(key) => push(PathBuf::from(key)),
                None => push(f.clone()),
            }
        }
        if let Some(home) = &self.home {
            for k in opkssh_dir_keys(home) {
                push(k);
            }
            for name in DEFAULT_KEYS {
                let k = home.join(".ssh").join(name);
                if k.exists() {
                    push(k);
                }
            }
        }
        let mut opk = Vec::new();
        let mut other = Vec::new();
        for key in keys {
            let explicit = self
                .files
                .iter()
                .any(|f| *f == key || *f == cert_path_of(&key));
            if !key.exists() {
                if explicit {
                    warn(&format!("no such identity file {}", key.display()));
                }
                continue;
            }
            let cert_path = cert_path_of(&key);
            let cert = read_cert(&cert_path).or_else(|e| {
                warn(&format!(
                    "{}; offering the key without it",
                    crate::one_line(&e)
                ));
                Ok::<_, Error>(None)
            })?;
            match cert {
                Some(cert) => {
                    let times = token_times(&cert);
                    let c = Candidate::Cert {
                        key: key.clone(),
                        cert_path,
                        cert: Box::new(cert),
                        times,
                    };
                    if times.is_some() {
                        opk.push(c);
                    } else {
                        other.push(c);
                    }
                    // OpenSSH also offers the bare key after its certificate.
                    other.push(Candidate::Key(key));
                }
                None => other.push(Candidate::Key(key)),
            }
        }
        // CertificateFile: offered with the key that matches it among the known keys.
        for cert_path in &self.certificates {
            let Some(cert) = read_cert(cert_path)? else {
                warn(&format!("no such certificate file {}", cert_path.display()));
                continue;
            };
            let key = cert_path
                .to_str()
                .and_then(|s| s.strip_suffix("-cert.pub"))
                .map(PathBuf::from)
                .filter(|k| k.exists());
            if let Some(key) = key {
                let times = token_times(&cert);
                let c = Candidate::Cert {
                    key,
                    cert_path: cert_path.clone(),
                    cert: Box::new(cert),
                    times,
                };
                if times.is_some() {
                    opk.push(c);
                } else {
                    other.insert(0, c);
                }
            }
        }
        opk.extend(other);
        Ok(opk)
    }
}

/// A warning on stderr: the client's own voice, like ssh's.
pub(crate) fn warn(msg: &str) {
    eprintln!("opk ssh: {msg}");
}

fn publickey_allowed(r: &AuthResult) -> bool {
    match r {
        AuthResult::Failure {
            remaining_methods, ..
        } => remaining_methods.contains(&MethodKind::PublicKey),
        _ => true,
    }
}

/// Authenticates `user` on `handle`, trying every identity in order.
pub(crate) async fn authenticate(
    handle: &mut Handle<Client>,
    user: &str,
    host: &str,
    ids: &Identities,
) -> Result<(), Error> {
    let candidates = ids.candidates()?;
    let mut tried: Vec<String> = Vec::new();
    let mut opk_tried: Vec<(PathBuf, TokenTimes)> = Vec::new();
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten();
    let mut go_on = true;
    for c in candidates {
        if !go_on {
            break;
        }
        let (key_path, label) = match &c {
            Candidate::Cert { key, cert_path, .. } => (key, cert_path.display().to_string()),
            Candidate::Key(key) => (key, key.display().to_string()),
        };
        let key = match load_secret_key(key_path, None) {
            Ok(k) => Arc::new(k),
            Err(russh::keys::Error::KeyIsEncrypted) => {
                warn(&format!(
                    "skipping {}: it is passphrase-protected (add it to ssh-agent)",
                    key_path.display()
                ));
                continue;
            }
            Err(e) => {
                warn(&format!(
                    "skipping {}: {}",
                    key_path.display(),
                    crate::one_line(&e)
                ));
                continue;
            }
        };
        let result = match c {
            Candidate::Cert {
                cert,
                times,
                cert_path,
                ..
            } => {
                if let Some(t) = times {
                    opk_tried.push((cert_path, t));
                }
                handle.authenticate_openssh_cert(user, key, *cert).await
            }
            Candidate::Key(_) => {
                handle
                    .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, rsa_hash))
                    .await
            }
        }
        .map_err(Error::Session)?;
        tried.push(label);
        if result.success() {
            return Ok(());
        }
        go_on = publickey_allowed(&result);
    }
    if go_on && let Some(sock) = &ids.agent {
        match agent_auth(handle, user, sock, &mut tried, rsa_hash).await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            // A dead agent socket is common (stale SSH_AUTH_SOCK): say so, do not fail the login.
            Err(e) => warn(&crate::one_line(&e)),
        }
    }
    let hint = hint_for(&opk_tried, tried.is_empty(), now_secs());
    Err(Error::AuthFailed {
        user: user.to_owned(),
        host: host.to_owned(),
        tried: if tried.is_empty() {
            "none".to_owned()
        } else {
            tried.join(", ")
        },
        hint,
    })
}

async fn agent_auth(
    handle: &mut Handle<Client>,
    user: &str,
    sock: &Path,
    tried: &mut Vec<String>,
    rsa_hash: Option<russh::keys::HashAlg>,
) -> Result<bool, Error> {
    let agent_err = |source| Error::Agent {
        path: sock.to_owned(),
        source,
    };
    let mut agent = AgentClient::connect_uds(sock).await.map_err(agent_err)?;
    let ids = agent.request_identities().await.map_err(agent_err)?;
    for id in ids {
        let label = format!("agent key {}", id.comment());
        let result = match id {
            AgentIdentity::Certificate { certificate, .. } => {
                handle
                    .authenticate_certificate_with(user, certificate, None, &mut agent)
                    .await
            }
            AgentIdentity::PublicKey { key, .. } => {
                let hash = key.algorithm().is_rsa().then_some(rsa_hash).flatten();
                handle
                    .authenticate_publickey_with(user, key, hash, &mut agent)
                    .await
            }
        };
        tried.push(label);
        match result {
            Ok(r) if r.success() => return Ok(true),
            Ok(r) if !publickey_allowed(&r) => return Ok(false),
            Ok(_) => {}
            // The agent declined to sign (e.g. a confirm-constrained key): try the next one.
            Err(e) => warn(&format!("ssh-agent could not sign: {e}")),
        }
    }
    Ok(false)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The advice for a failed login: an expired or old PK Token explains most refusals of an opk
/// certificate, so it is named; otherwise a generic pointer.
fn hint_for(opk_tried: &[(PathBuf, TokenTimes)], nothing_tried: bool, now: u64) -> AuthHint {
    if nothing_tried {
        return AuthHint::NoIdentities;
    }
    for (cert, t) in opk_tried {
        if let Some(exp) = t.exp.filter(|&exp| exp < now) {
            return AuthHint::PkTokenExpired {
                cert: cert.clone(),
                secs_ago: now - exp,
            };
        }
    }
    for (cert, t) in opk_tried {
        if let Some(iat) = t
            .iat
            .filter(|&iat| now.saturating_sub(iat) > DEFAULT_MAX_AGE_SECS)
        {
            return AuthHint::PkTokenOld {
                cert: cert.clone(),
                secs: now - iat,
            };
        }
    }
    if opk_tried.is_empty() {
        AuthHint::None
    } else {
        AuthHint::OpkRefused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_expired_token_first() {
        let cert = PathBuf::from("/h/.ssh/id_ecdsa-cert.pub");
        let now = 1_000_000;
        let fresh = TokenTimes {
            iat: Some(now - 60),
            exp: Some(now + 3000),
        };
        let expired = TokenTimes {
            iat: Some(now - 7200 - 3600),
            exp: Some(now - 7200),
        };
        let old = TokenTimes {
            iat: Some(now - 25 * 3600),
            exp: None,
        };
        assert_eq!(hint_for(&[], true, now), AuthHint::NoIdentities);
        assert_eq!(hint_for(&[], false, now), AuthHint::None);
        assert_eq!(
            hint_for(&[(cert.clone(), fresh)], false, now),
            AuthHint::OpkRefused
        );
        assert_eq!(
            hint_for(
                &[(cert.clone(), fresh), (cert.clone(), expired)],
                false,
                now
            ),
            AuthHint::PkTokenExpired {
                cert: cert.clone(),
                secs_ago: 7200
            }
        );
        assert_eq!(
            hint_for(&[(cert.clone(), old)], false, now),
            AuthHint::PkTokenOld {
                cert,
                secs: 25 * 3600
            }
        );
    }

    #[test]
    fn certificate_path_and_home_expansion() {
        assert_eq!(
            cert_path_of(Path::new("/h/.ssh/id_ecdsa")),
            PathBuf::from("/h/.ssh/id_ecdsa-cert.pub")
        );
        assert_eq!(
            expand_home("~/.ssh/opkssh/x", Path::new("/h")),
            PathBuf::from("/h/.ssh/opkssh/x")
        );
        assert_eq!(expand_home("/abs", Path::new("/h")), PathBuf::from("/abs"));
    }
}
