//! `opk logout`: removes the key pairs opk (or opkssh) wrote and their copies in ssh-agent, as
//! opkssh's logout does for the files: `-i PATH`, or the default names in `~/.ssh` and every key
//! in `~/.ssh/opkssh` (whose `IdentityFile` line goes too). A pair is opk's only when its
//! certificate carries a PK Token (`openpubkey-pkt`) and certifies the private key beside it, so
//! a user's own key is never removed. Running it again finds nothing and succeeds.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use opk_sshcert::agent::{self, AgentReply};
use opk_sshcert::{EphemeralKey, OpkCert, PublicKey};

use crate::Error;
use crate::agent::AgentConn;
use crate::keyfiles::{self, DEFAULT_KEY_NAMES};

/// Why a key was left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kept {
    /// No `<key>-cert.pub` beside it.
    NoCertificate,
    /// The certificate is not an opk certificate (no PK Token), or not a certificate.
    NotOpk,
    /// The private key cannot be read as an OpenSSH key.
    UnreadableKey,
    /// The opk certificate certifies another key.
    Mismatch,
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kept::NoCertificate => "no certificate beside it",
            Kept::NotOpk => "not written by opk (its certificate carries no PK Token)",
            Kept::UnreadableKey => "the private key is not an unencrypted OpenSSH key",
            Kept::Mismatch => "the certificate beside it certifies another key",
        })
    }
}

/// What [`logout`] did.
#[derive(Debug, Default)]
pub struct LogoutReport {
    /// The removed pairs: (key, certificate). A pair whose key was already gone counts too.
    pub removed: Vec<(PathBuf, PathBuf)>,
    /// Keys looked at and left alone, with the reason.
    pub kept: Vec<(PathBuf, Kept)>,
    /// Identities removed from ssh-agent.
    pub agent_removed: usize,
    /// The agent could not be asked (the files are removed all the same).
    pub agent_error: Option<Error>,
}

/// Removes opk's key pairs: the one at `explicit` (`-i`; anything else there is refused), or
/// those at opkssh's places under `home`; then every identity in the agent at `agent_socket`
/// that certifies one of the removed keys.
pub fn logout(
    home: &Path,
    explicit: Option<&Path>,
    agent_socket: Option<&Path>,
) -> Result<LogoutReport, Error> {
    let mut report = LogoutReport::default();
    let mut gone_keys: Vec<PublicKey> = Vec::new();
    let identity_config = home.join(".ssh/opkssh/config");
    let candidates: Vec<(PathBuf, bool)> = match explicit {
        Some(key) => vec![(key.to_owned(), false)],
        None => {
            let ssh = home.join(".ssh");
            let mut list: Vec<(PathBuf, bool)> = DEFAULT_KEY_NAMES
                .iter()
                .map(|n| (ssh.join(n), false))
                .collect();
            list.extend(identity_dir_keys(&ssh.join("opkssh"))?);
            list
        }
    };
    for (key, listed) in candidates {
        let cert_path = keyfiles::cert_path(&key);
        match ours(&key, &cert_path) {
            Ok(public) => {
                remove_if_there(&key)?;
                remove_if_there(&cert_path)?;
                if listed {
                    keyfiles::remove_identity_file(&identity_config, &key)?;
                }
                gone_keys.push(public);
                report.removed.push((key, cert_path));
            }
            // Nothing there (any more): nothing to do, also for -i.
            Err(Kept::NoCertificate) if !exists(&key) => {}
            Err(why) if explicit.is_some() => {
                return Err(Error::NotOurPair { key, why });
            }
            Err(why) => report.kept.push((key, why)),
        }
    }
    if let Some(socket) = agent_socket.filter(|_| !gone_keys.is_empty()) {
        match remove_from_agent(socket, &gone_keys) {
            Ok(n) => report.agent_removed = n,
            Err(e) => report.agent_error = Some(e),
        }
    }
    Ok(report)
}

/// The keys in `~/.ssh/opkssh`: every file but `config` and the certificates, and the key path of
/// a certificate whose key is gone (so an interrupted logout is finished).
fn identity_dir_keys(dir: &Path) -> Result<Vec<(PathBuf, bool)>, Error> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Read {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut keys: Vec<(PathBuf, bool)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter_map(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            match name.strip_suffix("-cert.pub") {
                Some(key) => Some(dir.join(key)),
                None if name == "config" => None,
                None => Some(p),
            }
        })
        .map(|p| (p, true))
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// The certified public key when `key` + `cert` are an opk pair. A certificate whose key file is
/// already gone (an interrupted logout) is opk's when it carries a PK Token.
fn ours(key: &Path, cert: &Path) -> Result<PublicKey, Kept> {
    let line = fs::read_to_string(cert).map_err(|_| Kept::NoCertificate)?;
    let cert = OpkCert::from_line(line.trim_end()).map_err(|_| Kept::NotOpk)?;
    if cert.pk_token().is_none() {
        return Err(Kept::NotOpk);
    }
    if !exists(key) {
        return Ok(cert.public_key());
    }
    let pem = fs::read_to_string(key).map_err(|_| Kept::UnreadableKey)?;
    let private = EphemeralKey::from_openssh_pem(&pem).map_err(|_| Kept::UnreadableKey)?;
    if private.public_key() != cert.public_key() {
        return Err(Kept::Mismatch);
    }
    Ok(cert.public_key())
}

/// Removes `path`; already gone is fine.
fn remove_if_there(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Write {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Removes from the agent every opk certificate of one of `keys`.
fn remove_from_agent(socket: &Path, keys: &[PublicKey]) -> Result<usize, Error> {
    let mut conn = AgentConn::connect(socket)?;
    let mut removed = 0;
    for blob in conn.identities()? {
        let Ok(cert) = OpkCert::from_agent_blob(&blob) else {
            continue;
        };
        if cert.pk_token().is_some()
            && keys.contains(&cert.public_key())
            && conn.ask(&agent::remove_identity(&blob))? == AgentReply::Success
        {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use opk_sshcert::{CertRequest, KeyAlgorithm};

    use super::*;

    /// Writes an opk pair at `key`; the certificate certifies `certified` (the key itself unless
    /// given). Returns the key's public key.
    fn pair(key: &Path, certified: Option<&EphemeralKey>) -> PublicKey {
        let private = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
        let subject = certified.unwrap_or(&private);
        let cert = OpkCert::issue(
            &CertRequest {
                key_id: "alice@example.com".into(),
                principals: vec!["opkssh-wildcard".into()],
                pk_token: "e30.e30.c2ln".into(),
                access_token: None,
            },
            subject,
        )
        .expect("cert");
        fs::create_dir_all(key.parent().expect("dir")).expect("mkdir");
        fs::write(
            key,
            private
                .to_openssh_pem("openpubkey cert")
                .expect("pem")
                .as_bytes(),
        )
        .expect("key");
        fs::write(keyfiles::cert_path(key), cert.to_line(Some("openpubkey"))).expect("cert");
        private.public_key()
    }

    #[test]
    fn removes_only_opk_pairs_and_their_identity_lines_and_is_idempotent() {
        let home = tempfile::tempdir().expect("home");
        let ssh = home.path().join(".ssh");
        pair(&ssh.join("id_ecdsa"), None);
        // The user's own key (no certificate) and a pair whose certificate is for another key.
        fs::write(ssh.join("id_ed25519"), "MY OWN KEY").expect("own");
        fs::write(ssh.join("id_ed25519.pub"), "ssh-ed25519 AAAA me").expect("own pub");
        let other = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
        pair(&ssh.join("id_ecdsa_sk"), Some(&other));
        // ~/.ssh/opkssh: a listed opk key, and a certificate left by an interrupted logout.
        let listed = ssh.join("opkssh/op.example-client");
        pair(&listed, None);
        let orphan = ssh.join("opkssh/gone.example-client");
        pair(&orphan, None);
        fs::remove_file(&orphan).expect("rm key");
        let config = ssh.join("opkssh/config");
        let other_line = "IdentityFile /elsewhere/key\n";
        fs::write(
            &config,
            format!("IdentityFile {}\n{other_line}", listed.display()),
        )
        .expect("config");

        let report = logout(home.path(), None, None).expect("logout");
        let removed: Vec<&Path> = report.removed.iter().map(|(k, _)| k.as_path()).collect();
        assert_eq!(
            removed,
            [ssh.join("id_ecdsa"), orphan.clone(), listed.clone()]
        );
        assert_eq!(
            report.kept,
            [
                (ssh.join("id_ecdsa_sk"), Kept::Mismatch),
                (ssh.join("id_ed25519"), Kept::NoCertificate),
            ]
        );
        for (k, c) in &report.removed {
            assert!(!exists(k) && !exists(c), "{}", k.display());
        }
        assert_eq!(fs::read_to_string(&config).expect("config"), other_line);
        assert_eq!(
            fs::read_to_string(ssh.join("id_ed25519")).expect("own"),
            "MY OWN KEY"
        );
        assert!(exists(&ssh.join("id_ecdsa_sk")));
        assert!(report.agent_error.is_none() && report.agent_removed == 0);

        let again = logout(home.path(), None, None).expect("second logout");
        assert!(again.removed.is_empty(), "{:?}", again.removed);
    }

    #[test]
    fn explicit_path_refuses_what_is_not_opks_and_accepts_what_is_gone() {
        let dir = tempfile::tempdir().expect("dir");
        let own = dir.path().join("own");
        fs::write(&own, "MY OWN KEY").expect("own");
        let e = logout(dir.path(), Some(&own), None).expect_err("foreign");
        assert!(
            matches!(&e, Error::NotOurPair { key, why: Kept::NoCertificate } if key == &own),
            "{e}"
        );
        assert!(e.to_string().contains("not opk's to remove"), "{e}");
        assert!(exists(&own));
        // A certificate without a PK Token: any ssh-keygen -s certificate, say.
        fs::write(
            keyfiles::cert_path(&own),
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBxCN4w2PPkQMjeOb4p1D1I3aKh1lqL4fqz1Ib8cKjKT me",
        )
        .expect("pub");
        let e = logout(dir.path(), Some(&own), None).expect_err("not opk");
        assert!(
            matches!(
                e,
                Error::NotOurPair {
                    why: Kept::NotOpk,
                    ..
                }
            ),
            "{e}"
        );

        let mine = dir.path().join("mine");
        pair(&mine, None);
        let report = logout(dir.path(), Some(&mine), None).expect("ours");
        assert_eq!(report.removed.len(), 1);
        assert!(!exists(&mine) && !exists(&keyfiles::cert_path(&mine)));
        let again = logout(dir.path(), Some(&mine), None).expect("gone already");
        assert!(again.removed.is_empty());
    }
}
