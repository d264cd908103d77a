//! Host-key checking against known_hosts (decisions by opk-sshconfig; this file does the I/O:
//! reading the files, recording accepted keys, asking on the terminal for `ask`).

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

use opk_sshconfig::{HostKeyStatus, KnownHosts, ServerKey, entry_line, host_key_name};
use russh::keys::PublicKeyOrCertificate;
use russh::keys::ssh_key::HashAlg;

use crate::auth::warn;
use crate::error::Error;

/// `StrictHostKeyChecking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    /// Refuse unknown and changed keys (opk's default).
    #[default]
    Yes,
    /// Ask on the terminal about unknown keys (refuse without one); refuse changed ones.
    Ask,
    /// Record unknown keys, refuse changed ones.
    AcceptNew,
    /// Record unknown keys. Changed keys are still refused (OpenSSH would connect with a
    /// warning; a changed key is never something to walk past).
    No,
}

impl From<opk_sshconfig::StrictHostKeyChecking> for Strictness {
    fn from(s: opk_sshconfig::StrictHostKeyChecking) -> Self {
        use opk_sshconfig::StrictHostKeyChecking as S;
        match s {
            S::Yes => Self::Yes,
            S::Ask => Self::Ask,
            S::AcceptNew => Self::AcceptNew,
            S::No => Self::No,
        }
    }
}

/// How to check a server's host key.
#[derive(Debug, Clone, Default)]
pub struct HostKeyPolicy {
    /// Strictness.
    pub strict: Strictness,
    /// known_hosts files in lookup order (user files, then system ones); new keys are recorded
    /// in the first.
    pub known_hosts: Vec<PathBuf>,
    /// `HostKeyAlias`: the name looked up instead of the host.
    pub alias: Option<String>,
    /// `HashKnownHosts`: record new keys under a hashed name.
    pub hash: bool,
}

fn server_key(key: &PublicKeyOrCertificate) -> ServerKey<'_> {
    match key {
        PublicKeyOrCertificate::PublicKey { key, .. } => ServerKey::from(key),
        PublicKeyOrCertificate::Certificate(c) => ServerKey::from(c),
    }
}

fn fingerprint(key: &ServerKey<'_>) -> String {
    key.key_data().fingerprint(HashAlg::Sha256).to_string()
}

/// Decides on the server's key; records it for accept-new / no / a "yes" answer.
pub(crate) fn check(
    policy: &HostKeyPolicy,
    host: &str,
    port: u16,
    key: &PublicKeyOrCertificate,
) -> Result<(), Error> {
    let name_host = policy.alias.as_deref().unwrap_or(host);
    let name = host_key_name(name_host, port);
    let known =
        KnownHosts::load(&policy.known_hosts).map_err(|e| Error::KnownHosts(Box::new(e)))?;
    let sk = server_key(key);
    let fp = fingerprint(&sk);
    let files = || {
        let list: Vec<String> = policy
            .known_hosts
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        if list.is_empty() {
            "no known_hosts file (UserKnownHostsFile none)".to_owned()
        } else {
            list.join(", ")
        }
    };
    match known.check(name_host, port, sk) {
        HostKeyStatus::Known { .. } => Ok(()),
        HostKeyStatus::Mismatch { at, presented, .. } => Err(Error::HostKeyMismatch {
            host: name,
            file: at.file,
            line: at.line,
            fingerprint: presented,
        }),
        HostKeyStatus::Revoked { at } => Err(Error::HostKeyRevoked {
            host: name,
            file: at.file,
            line: at.line,
            fingerprint: fp,
        }),
        HostKeyStatus::Unknown { cert_rejected, .. } => {
            if let Some((at, why)) = cert_rejected {
                warn(&format!(
                    "the host certificate of {name} is signed by the CA at {at} but {why}; checking its plain key"
                ));
            }
            let accept = match policy.strict {
                Strictness::Yes => false,
                Strictness::AcceptNew | Strictness::No => true,
                Strictness::Ask => ask(&name, &fp),
            };
            if !accept {
                return Err(Error::HostKeyUnknown {
                    host: name,
                    files: files(),
                    fingerprint: fp,
                });
            }
            record(policy, name_host, port, &sk, &name)
        }
        // A status added by a newer opk-sshconfig: fail closed.
        _ => Err(Error::HostKeyUnknown {
            host: name,
            files: files(),
            fingerprint: fp,
        }),
    }
}

/// Whether a `@cert-authority` line covers this host: then host certificates are asked for
/// (as OpenSSH orders its host-key algorithms by what known_hosts can check).
pub(crate) fn wants_certificates(policy: &HostKeyPolicy, host: &str, port: u16) -> bool {
    let name_host = policy.alias.as_deref().unwrap_or(host);
    KnownHosts::load(&policy.known_hosts)
        .map(|k| {
            k.find(name_host, port)
                .iter()
                .any(|f| f.marker == Some("@cert-authority"))
        })
        .unwrap_or(false)
}

/// OpenSSH's question, on the terminal (not stdin, which may be the command's input).
fn ask(name: &str, fp: &str) -> bool {
    let Ok(mut tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return false;
    };
    let _ = write!(
        tty,
        "The authenticity of host '{name}' can't be established.\r\nKey fingerprint is {fp}.\r\nAre you sure you want to continue connecting (yes/no)? "
    );
    let mut answer = String::new();
    let Ok(reader) = tty.try_clone() else {
        return false;
    };
    if std::io::BufReader::new(reader)
        .read_line(&mut answer)
        .is_err()
    {
        return false;
    }
    answer.trim().eq_ignore_ascii_case("yes")
}

/// Appends the key to the first known_hosts file (created 0600 in a 0700 dir if missing).
fn record(
    policy: &HostKeyPolicy,
    name_host: &str,
    port: u16,
    sk: &ServerKey<'_>,
    name: &str,
) -> Result<(), Error> {
    let Some(file) = policy.known_hosts.first() else {
        // UserKnownHostsFile none: nothing to record into, as with OpenSSH.
        return Ok(());
    };
    let write_err = |source| Error::KnownHostsWrite {
        host: name.to_owned(),
        file: file.clone(),
        source: Box::new(source),
    };
    let line = entry_line(name_host, port, *sk, policy.hash).map_err(write_err)?;
    let mut text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::KnownHostsIo {
                file: file.clone(),
                source: e,
            });
        }
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    text.push('\n');
    opk_files::create_parent_dirs(file, 0o700).map_err(|e| Error::KnownHostsIo {
        file: file.clone(),
        source: e.source,
    })?;
    opk_files::rewrite(file, text.as_bytes(), 0o600).map_err(Error::KnownHostsSave)?;
    warn(&format!(
        "Permanently added '{name}' ({}) to {}.",
        sk.key_data().algorithm(),
        file.display()
    ));
    Ok(())
}
