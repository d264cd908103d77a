//! `known_hosts` files in OpenSSH format (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): lookup with
//! OpenSSH's rules, and the line `accept-new` appends. Entry syntax is ssh-key's parser; host
//! matching, hashed names and the decision are here because ssh-key leaves them to the caller.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Encoding as _};
use hmac::{Hmac, KeyInit as _, Mac as _};
use ssh_key::known_hosts::{Entry as RawEntry, HostPatterns, Marker};
use ssh_key::{Certificate, HashAlg, PublicKey, certificate::CertType, public::KeyData};

use crate::pattern::{ListMatch, match_comma_list, matches};
use crate::{Error, Location};

/// Largest known_hosts file we read (OpenSSH has no cap; this is far above real files).
pub const MAX_KNOWN_HOSTS_LEN: u64 = 16 * 1024 * 1024;
/// Longest line we parse; longer ones are skipped with a warning (an RSA-16384 entry is ~3 KiB).
pub const MAX_LINE_LEN: usize = 64 * 1024;
/// Bytes of SHA-1: salt and digest length of `|1|` hashed names.
const SHA1_LEN: usize = 20;

/// The key a server presented: a plain host key or an OpenSSH host certificate.
#[derive(Clone, Copy, Debug)]
pub enum ServerKey<'a> {
    /// A plain public key.
    Plain(&'a KeyData),
    /// A host certificate; accepted if signed by a matching `@cert-authority`, else its plain
    /// key is looked up (as OpenSSH does).
    Cert(&'a Certificate),
}

impl<'a> From<&'a PublicKey> for ServerKey<'a> {
    fn from(k: &'a PublicKey) -> Self {
        ServerKey::Plain(k.key_data())
    }
}
impl<'a> From<&'a KeyData> for ServerKey<'a> {
    fn from(k: &'a KeyData) -> Self {
        ServerKey::Plain(k)
    }
}
impl<'a> From<&'a Certificate> for ServerKey<'a> {
    fn from(c: &'a Certificate) -> Self {
        ServerKey::Cert(c)
    }
}

impl ServerKey<'_> {
    /// The key itself (for a certificate: the certified key).
    pub fn key_data(&self) -> &KeyData {
        match self {
            ServerKey::Plain(k) => k,
            ServerKey::Cert(c) => c.public_key(),
        }
    }
}

/// Why a host certificate signed by a trusted CA was still not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertProblem {
    /// A user certificate was presented as a host key.
    #[error("it is a user certificate, not a host certificate")]
    NotHostCert,
    /// The host name is not among the certificate's principals.
    #[error("the host name is not among its principals")]
    WrongHost,
    /// Outside valid-after / valid-before.
    #[error("it is expired or not yet valid")]
    NotValidNow,
    /// It carries critical options, which host certificates must not.
    #[error("it has critical options, which host certificates must not have")]
    CriticalOptions,
    /// The CA's signature does not verify (or uses an algorithm this build cannot check).
    #[error("its CA signature does not verify")]
    BadSignature,
}

/// The verdict on a server's key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostKeyStatus {
    /// The key (or the certificate's CA) is listed for this host.
    Known {
        /// The entry that vouched for it.
        at: Location,
    },
    /// This host has a different key on record (of any type, as OpenSSH decides): possible
    /// man-in-the-middle.
    Mismatch {
        /// The entry with the key on record ("Offending key").
        at: Location,
        /// SHA-256 fingerprint of the key on record.
        expected: String,
        /// SHA-256 fingerprint of the key presented.
        presented: String,
    },
    /// The key, or the CA that signed the certificate, is marked `@revoked`.
    Revoked {
        /// The `@revoked` entry.
        at: Location,
    },
    /// No key on record for this host.
    Unknown {
        /// A certificate was signed by a CA listed for this host but was not valid.
        cert_rejected: Option<(Location, CertProblem)>,
    },
}

/// A line skipped because it could not be parsed (OpenSSH skips such lines too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub at: Location,
    /// What is wrong.
    pub problem: LineProblem,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; line ignored", self.at, self.problem)
    }
}

/// What is wrong with a skipped known_hosts line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineProblem {
    /// Longer than [`MAX_LINE_LEN`].
    #[error("line too long")]
    TooLong,
    /// A `|1|salt|hash` host field that does not decode to two 20-byte values.
    #[error("malformed hashed host name")]
    BadHashedHost,
    /// Marker, host field or key could not be parsed.
    #[error("not a known_hosts entry (expected [@marker] hosts key-type base64-key)")]
    Malformed,
}

#[derive(Clone, Debug)]
enum Hosts {
    /// Comma-separated patterns as written.
    Patterns(String),
    Hashed {
        salt: Vec<u8>,
        hash: [u8; SHA1_LEN],
    },
}

#[derive(Clone, Debug)]
struct Entry {
    file: Arc<Path>,
    line: usize,
    marker: Option<Marker>,
    hosts: Hosts,
    key: KeyData,
}

impl Entry {
    fn location(&self) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line: self.line,
        }
    }

    /// OpenSSH `match_hostname` / hashed compare: negated patterns exclude the host.
    fn matches(&self, name: &str) -> bool {
        match &self.hosts {
            Hosts::Patterns(p) => match_comma_list(name, p, true) == ListMatch::Positive,
            Hosts::Hashed { salt, hash } => hmac_sha1(salt, name).as_slice() == hash.as_slice(),
        }
    }
}

fn hmac_sha1(salt: &[u8], name: &str) -> [u8; SHA1_LEN] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(salt) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(name.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The name OpenSSH looks up: `host` for port 22, `[host]:port` otherwise, lowercased.
pub fn host_key_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// Parsed known_hosts entries from one or more files, in order.
#[derive(Clone, Debug, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
    warnings: Vec<Warning>,
}

/// One matching entry, as `ssh-keygen -F` lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Where.
    pub at: Location,
    /// `@cert-authority`, `@revoked` or none.
    pub marker: Option<&'static str>,
    /// The key on the line.
    pub key: KeyData,
}

impl KnownHosts {
    /// Parses one file's text; `label` names it in locations and warnings. Never fails:
    /// unparsable lines become [`warnings`](Self::warnings).
    pub fn parse(label: &Path, text: &str) -> Self {
        let mut kh = KnownHosts::default();
        kh.add(label, text);
        kh
    }

    /// Reads and parses `files` in order; missing files are skipped, as OpenSSH does.
    pub fn load(files: &[PathBuf]) -> Result<Self, Error> {
        let mut kh = KnownHosts::default();
        for f in files {
            if let Some(text) = crate::load::read_capped(f, MAX_KNOWN_HOSTS_LEN)? {
                kh.add(f, &text);
            }
        }
        Ok(kh)
    }

    /// Appends the entries of another file's text (after those already present).
    pub fn add(&mut self, label: &Path, text: &str) {
        let file: Arc<Path> = Arc::from(label);
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let t = raw.trim_start_matches([' ', '\t']);
            if t.is_empty() || t.starts_with('#') || t.trim().is_empty() {
                continue;
            }
            match parse_line(t) {
                Ok((marker, hosts, key)) => self.entries.push(Entry {
                    file: file.clone(),
                    line,
                    marker,
                    hosts,
                    key,
                }),
                Err(problem) => self.warnings.push(Warning {
                    at: Location {
                        file: file.to_path_buf(),
                        line,
                    },
                    problem,
                }),
            }
        }
    }

    /// Lines that could not be parsed and were skipped.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Number of parsed entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if no entries were parsed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries whose host field matches `host` on `port`, in file order (as `ssh-keygen -F`).
    pub fn find(&self, host: &str, port: u16) -> Vec<Found> {
        let name = host_key_name(host, port);
        self.matching(&name)
            .map(|e| Found {
                at: e.location(),
                marker: e.marker.as_ref().map(|m| match m {
                    Marker::CertAuthority => "@cert-authority",
                    Marker::Revoked => "@revoked",
                }),
                key: e.key.clone(),
            })
            .collect()
    }

    fn matching<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Entry> + 's {
        self.entries.iter().filter(move |e| e.matches(name))
    }

    /// Decides on `key` for `host`:`port` now. See [`check_at`](Self::check_at).
    pub fn check<'k>(&self, host: &str, port: u16, key: impl Into<ServerKey<'k>>) -> HostKeyStatus {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.check_at(host, port, key, now)
    }

    /// Decides on `key` for `host`:`port` at Unix time `now`, with OpenSSH's rules: `@revoked`
    /// (for the key or the certificate's CA) wins; a certificate is accepted when a matching
    /// `@cert-authority` signed it and it is a valid host certificate for `host`, otherwise its
    /// plain key is looked up; a plain key is known if any matching entry has it, and a mismatch
    /// if a matching entry has another key, whatever its type (OpenSSH 9.2 says "REMOTE HOST
    /// IDENTIFICATION HAS CHANGED" for an ECDSA entry when the server offers Ed25519).
    pub fn check_at<'k>(
        &self,
        host: &str,
        port: u16,
        key: impl Into<ServerKey<'k>>,
        now: u64,
    ) -> HostKeyStatus {
        let key = key.into();
        let name = host_key_name(host, port);
        let revoked = |k: &KeyData| {
            self.matching(&name)
                .find(|e| e.marker == Some(Marker::Revoked) && &e.key == k)
        };
        if let Some(e) = revoked(key.key_data()) {
            return HostKeyStatus::Revoked { at: e.location() };
        }
        let mut cert_rejected = None;
        if let ServerKey::Cert(cert) = key {
            if let Some(e) = revoked(cert.signature_key()) {
                return HostKeyStatus::Revoked { at: e.location() };
            }
            let ca = self.matching(&name).find(|e| {
                e.marker == Some(Marker::CertAuthority) && &e.key == cert.signature_key()
            });
            if let Some(e) = ca {
                match check_host_cert(cert, &host.to_ascii_lowercase(), now) {
                    Ok(()) => return HostKeyStatus::Known { at: e.location() },
                    Err(p) => cert_rejected = Some((e.location(), p)),
                }
            }
        }
        let presented = key.key_data();
        let mut mismatch = None;
        for e in self.matching(&name).filter(|e| e.marker.is_none()) {
            if &e.key == presented {
                return HostKeyStatus::Known { at: e.location() };
            }
            mismatch.get_or_insert(e);
        }
        match mismatch {
            Some(e) => HostKeyStatus::Mismatch {
                at: e.location(),
                expected: e.key.fingerprint(HashAlg::Sha256).to_string(),
                presented: presented.fingerprint(HashAlg::Sha256).to_string(),
            },
            None => HostKeyStatus::Unknown { cert_rejected },
        }
    }
}

/// OpenSSH's `check_host_cert` after the CA matched.
fn check_host_cert(cert: &Certificate, host: &str, now: u64) -> Result<(), CertProblem> {
    if cert.cert_type() != CertType::Host {
        return Err(CertProblem::NotHostCert);
    }
    // Same order as OpenSSH's sshkey_cert_check_authority: type, validity, principals.
    if !(cert.valid_after() <= now && now < cert.valid_before()) {
        return Err(CertProblem::NotValidNow);
    }
    let principals = cert.valid_principals();
    // No principals: valid for any host, as in OpenSSH; principals may be wildcards (8.9+).
    if !principals.is_empty() && !principals.iter().any(|p| matches(host, p)) {
        return Err(CertProblem::WrongHost);
    }
    if !cert.critical_options().is_empty() {
        return Err(CertProblem::CriticalOptions);
    }
    let ca = cert.signature_key().fingerprint(HashAlg::Sha256);
    cert.validate_at(now, [&ca])
        .map_err(|_| CertProblem::BadSignature)
}

fn parse_line(t: &str) -> Result<(Option<Marker>, Hosts, KeyData), LineProblem> {
    if t.len() > MAX_LINE_LEN {
        return Err(LineProblem::TooLong);
    }
    // ssh-key splits fields on single spaces; OpenSSH allows runs of spaces and tabs.
    let norm = t
        .split([' ', '\t'])
        .filter(|f| !f.is_empty())
        .collect::<Vec<_>>();
    let host_field = if norm.first().is_some_and(|f| f.starts_with('@')) {
        norm.get(1)
    } else {
        norm.first()
    };
    if host_field.is_some_and(|h| h.starts_with("|1|")) {
        check_hashed(host_field.copied().unwrap_or_default())?;
    }
    let raw: RawEntry = norm.join(" ").parse().map_err(|_| LineProblem::Malformed)?;
    let hosts = match raw.host_patterns() {
        HostPatterns::Patterns(_) => {
            Hosts::Patterns(host_field.copied().unwrap_or_default().to_owned())
        }
        HostPatterns::HashedName { salt, hash } => Hosts::Hashed {
            salt: salt.clone(),
            hash: *hash,
        },
    };
    Ok((
        raw.marker().copied(),
        hosts,
        raw.public_key().key_data().clone(),
    ))
}

/// OpenSSH requires salt and hash of exactly 20 bytes; ssh-key accepts any salt length.
fn check_hashed(field: &str) -> Result<(), LineProblem> {
    let rest = field
        .strip_prefix("|1|")
        .ok_or(LineProblem::BadHashedHost)?;
    let (salt, hash) = rest.split_once('|').ok_or(LineProblem::BadHashedHost)?;
    let ok = |s: &str| Base64::decode_vec(s).is_ok_and(|v| v.len() == SHA1_LEN);
    if ok(salt) && ok(hash) {
        Ok(())
    } else {
        Err(LineProblem::BadHashedHost)
    }
}

/// The known_hosts line (without newline) that records `key` for `host`:`port`, hashed with a
/// fresh salt if `hashed` (OpenSSH `HashKnownHosts`). For a certificate the plain key is
/// recorded, as OpenSSH does. The caller appends it with an atomic writer.
pub fn entry_line<'k>(
    host: &str,
    port: u16,
    key: impl Into<ServerKey<'k>>,
    hashed: bool,
) -> Result<String, Error> {
    let key = key.into();
    let name = host_key_name(host, port);
    let host_field = if hashed {
        let mut salt = [0u8; SHA1_LEN];
        getrandom::fill(&mut salt).map_err(Error::Random)?;
        let hash = hmac_sha1(&salt, &name);
        format!(
            "|1|{}|{}",
            Base64::encode_string(&salt),
            Base64::encode_string(&hash)
        )
    } else {
        name
    };
    let key_text = PublicKey::new(key.key_data().clone(), "")
        .to_openssh()
        .map_err(Error::EncodeKey)?;
    Ok(format!("{host_field} {}", key_text.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ9yme6Joe99om+KT80dY7LkWVPwJFeRQKTdYcd6yOA";

    fn key() -> PublicKey {
        PublicKey::from_openssh(ED).expect("key")
    }

    #[test]
    fn entry_lines() {
        let k = key();
        assert_eq!(
            entry_line("Host.EXAMPLE", 22, &k, false).expect("line"),
            format!("host.example {ED}")
        );
        assert_eq!(
            entry_line("h", 2222, &k, false).expect("line"),
            format!("[h]:2222 {ED}")
        );
        let a = entry_line("h", 22, &k, true).expect("hashed");
        let b = entry_line("h", 22, &k, true).expect("hashed");
        assert_ne!(a, b, "fresh salt each time");
        for l in [a, b] {
            let kh = KnownHosts::parse(Path::new("f"), &l);
            assert!(
                matches!(kh.check("h", 22, &k), HostKeyStatus::Known { .. }),
                "{l}"
            );
            assert!(
                matches!(kh.check("h", 23, &k), HostKeyStatus::Unknown { .. }),
                "{l}"
            );
        }
    }

    #[test]
    fn short_salt_and_long_lines_are_skipped() {
        let text = format!(
            "|1|AAAA|AAAAAAAAAAAAAAAAAAAAAAAAAAA= {ED}\nh {ED} {}\nh,{ED}\n@cert-authority\n",
            "c".repeat(MAX_LINE_LEN)
        );
        let kh = KnownHosts::parse(Path::new("f"), &text);
        let got: Vec<(usize, LineProblem)> = kh
            .warnings()
            .iter()
            .map(|w| (w.at.line, w.problem))
            .collect();
        assert_eq!(
            got,
            [
                (1, LineProblem::BadHashedHost),
                (2, LineProblem::TooLong),
                (3, LineProblem::Malformed),
                (4, LineProblem::Malformed)
            ]
        );
        assert!(kh.is_empty());
    }

    #[test]
    fn known_wins_over_an_earlier_mismatch_and_files_keep_order() {
        let other =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJgjFLoVmr3OD2HIbKkXCuAR8UWegiaw9vKYcx1IDdzy";
        let mut kh = KnownHosts::parse(Path::new("a"), &format!("h {other}\n"));
        assert!(matches!(
            kh.check("h", 22, &key()),
            HostKeyStatus::Mismatch { .. }
        ));
        kh.add(Path::new("b"), &format!("# c\nh {ED}\n"));
        assert_eq!(
            kh.check("h", 22, &key()),
            HostKeyStatus::Known {
                at: Location {
                    file: "b".into(),
                    line: 2
                }
            }
        );
        assert_eq!(kh.len(), 2);
    }
}
