//! Where `opk login` writes the key and certificate, with opkssh's precedence (`-i` first,
//! docs/hazards.md H-8), and how: atomically (temp file + rename), so a failed or interrupted
//! login never leaves a half-written key or destroys the previous one.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use opk_sshcert::KeyAlgorithm;

use crate::Error;

/// The comment opkssh puts on the cert line; it marks a key pair as replaceable by a new login.
pub(crate) const CERT_COMMENT: &str = "openpubkey";
/// The comment inside the private key file.
pub(crate) const KEY_COMMENT: &str = "openpubkey cert";

/// A chosen key location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLocation {
    /// The private key path (0600).
    pub key: PathBuf,
    /// The certificate path, `<key>-cert.pub` (0644).
    pub cert: PathBuf,
    /// The comment for the certificate line.
    pub cert_comment: String,
    /// For the `~/.ssh/opkssh` layout: the config file that must list the key.
    pub identity_config: Option<PathBuf>,
}

/// The default key names in `~/.ssh`, opkssh's: ECDSA's, then Ed25519's, each the plain name
/// and then the `_sk` one a login takes when the plain one is the user's own.
pub(crate) const DEFAULT_KEY_NAMES: [&str; 4] =
    ["id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk"];

/// `<key>-cert.pub`.
pub(crate) fn cert_path(key: &Path) -> PathBuf {
    let mut s = key.as_os_str().to_owned();
    s.push("-cert.pub");
    PathBuf::from(s)
}

/// Chooses where to write: `-i` wins (docs/hazards.md H-8); then a configured `~/.ssh/opkssh`;
/// then the first usable default name in `~/.ssh` (free, or holding an earlier opk/opkssh pair).
pub(crate) fn choose(
    home: &Path,
    explicit: Option<&Path>,
    alg: KeyAlgorithm,
    iss: &str,
    aud: &str,
) -> Result<KeyLocation, Error> {
    if let Some(key) = explicit {
        return Ok(KeyLocation {
            key: key.to_owned(),
            cert: cert_path(key),
            cert_comment: CERT_COMMENT.into(),
            identity_config: None,
        });
    }
    let ssh = home.join(".ssh");
    let opkssh_config = ssh.join("opkssh/config");
    let included = fs::read_to_string(ssh.join("config"))
        .map(|c| c.lines().any(|l| l.trim() == INCLUDE_LINE))
        .unwrap_or(false);
    if included && opkssh_config.is_file() {
        let key = ssh.join("opkssh").join(identity_file_name(iss, aud));
        return Ok(KeyLocation {
            cert: cert_path(&key),
            key,
            cert_comment: format!(" openpubkey: {iss} {aud}"),
            identity_config: Some(opkssh_config),
        });
    }
    let names = match alg {
        KeyAlgorithm::EcdsaP256 => &DEFAULT_KEY_NAMES[..2],
        KeyAlgorithm::Ed25519 => &DEFAULT_KEY_NAMES[2..],
    };
    for &name in names {
        let key = ssh.join(name);
        let cert = cert_path(&key);
        if !key.exists() {
            return Ok(KeyLocation {
                key,
                cert,
                cert_comment: CERT_COMMENT.into(),
                identity_config: None,
            });
        }
        // Only a pair whose cert comment is "openpubkey" is ours to replace (opkssh's rule);
        // never a user's own key.
        let ours = fs::read_to_string(&cert)
            .ok()
            .and_then(|line| {
                line.split_whitespace()
                    .nth(2)
                    .map(|c| c == CERT_COMMENT && line.split_whitespace().count() == 3)
            })
            .unwrap_or(false);
        if ours {
            return Ok(KeyLocation {
                key,
                cert,
                cert_comment: CERT_COMMENT.into(),
                identity_config: None,
            });
        }
    }
    Err(Error::NoFreeKeyFile(ssh))
}

/// opkssh's name for a key in `~/.ssh/opkssh`: issuer without `https://`, `-`, the first 20
/// characters of the audience, every run of other characters than `[A-Za-z0-9_.-]` made `_`.
pub(crate) fn identity_file_name(iss: &str, aud: &str) -> String {
    let raw = format!(
        "{}-{}",
        iss.strip_prefix("https://").unwrap_or(iss),
        aud.chars().take(20).collect::<String>()
    );
    let mut out = String::with_capacity(raw.len());
    let mut in_run = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

/// True when `cert` (a `-cert.pub` file) is an opk/opkssh certificate: it parses and carries a
/// PK Token. That makes the key beside it opk's to replace.
fn is_opk_cert_file(cert: &Path) -> bool {
    fs::read_to_string(cert)
        .ok()
        .and_then(|line| opk_sshcert::OpkCert::from_line(&line).ok())
        .is_some_and(|c| c.pk_token().is_some())
}

/// Checks, before the browser step, that the login can write `loc`: an `-i` key that opk did
/// not write (no paired certificate carrying `openpubkey-pkt`) is refused unless `force`, and
/// the directory (or the nearest existing one above it, which will be created) must be
/// writable. A probe file is created and removed to ask the file system rather than guess
/// from modes (root, ACLs, read-only mounts).
pub(crate) fn check_destination(
    loc: &KeyLocation,
    explicit: bool,
    force: bool,
) -> Result<(), Error> {
    if explicit && !force && fs::symlink_metadata(&loc.key).is_ok() && !is_opk_cert_file(&loc.cert)
    {
        return Err(Error::NotOurKey(loc.key.clone()));
    }
    let mut dir = loc
        .key
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    while !dir.exists() {
        match dir.parent() {
            Some(up) if !up.as_os_str().is_empty() => dir = up.to_owned(),
            _ => {
                dir = PathBuf::from(".");
                break;
            }
        }
    }
    let probe = dir.join(format!(".opk-write-check-{}", std::process::id()));
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(source) => Err(Error::NotWritable { dir, source }),
    }
}

/// `--configure`: creates `~/.ssh/opkssh/` (0700) with an empty `config` (0600), and puts
/// `Include ~/.ssh/opkssh/config` first in `~/.ssh/config` unless it is there, as opkssh does.
/// Returns whether `~/.ssh/config` changed.
pub fn configure_identity_dir(home: &Path) -> Result<bool, Error> {
    let ssh = home.join(".ssh");
    let opkssh = ssh.join("opkssh");
    let config = opkssh.join("config");
    ensure_private_dir(&config)?;
    if !config.exists() {
        opk_files::write_atomic(&config, b"", 0o600)?;
    }
    let user_config = ssh.join("config");
    let current = match fs::read_to_string(&user_config) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Write {
                path: user_config,
                source,
            });
        }
    };
    if current.lines().any(|l| l.trim() == INCLUDE_LINE) {
        return Ok(false);
    }
    // Keep the user's mode if the file exists (ssh refuses a group/world-writable config).
    let mode = fs::metadata(&user_config)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0o600);
    opk_files::write_atomic(
        &user_config,
        format!("{INCLUDE_LINE}\n\n{current}").as_bytes(),
        mode,
    )?;
    Ok(true)
}

/// The line that makes `~/.ssh/opkssh/config` part of the user's ssh config (opkssh's spelling).
const INCLUDE_LINE: &str = "Include ~/.ssh/opkssh/config";

/// Writes key and certificate: both are staged next to their targets, then put in place together
/// (rolled back if the second rename fails), so the old pair stays whole unless the new one lands.
pub(crate) fn write_pair(loc: &KeyLocation, key_pem: &str, cert_line: &str) -> Result<(), Error> {
    ensure_private_dir(&loc.key)?; // the certificate sits next to the key
    let key = opk_files::stage(&loc.key, key_pem.as_bytes(), 0o600)?;
    let cert = opk_files::stage(&loc.cert, cert_line.as_bytes(), 0o644)?;
    opk_files::commit_all(vec![key, cert])?;
    if let Some(config) = &loc.identity_config {
        add_identity_file(config, &loc.key)?;
    }
    Ok(())
}

/// Creates a missing key directory 0700, as ssh expects of ~/.ssh.
fn ensure_private_dir(file: &Path) -> Result<(), Error> {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if dir.exists() {
        return Ok(());
    }
    let write_err = |source| Error::Write {
        path: dir.to_owned(),
        source,
    };
    fs::create_dir_all(dir).map_err(write_err)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(write_err)
}

/// Prepends `IdentityFile <key>` to `~/.ssh/opkssh/config` unless it is already there.
fn add_identity_file(config: &Path, key: &Path) -> Result<(), Error> {
    let line = format!("IdentityFile {}", key.display());
    let current = fs::read_to_string(config).map_err(|source| Error::Write {
        path: config.to_owned(),
        source,
    })?;
    if current.lines().any(|l| l.trim() == line) {
        return Ok(());
    }
    opk_files::write_atomic(config, format!("{line}\n{current}").as_bytes(), 0o600)?;
    Ok(())
}

/// Removes the `IdentityFile <key>` line from `~/.ssh/opkssh/config` (logout), keeping the rest
/// and the file's mode; a missing config is fine.
pub(crate) fn remove_identity_file(config: &Path, key: &Path) -> Result<(), Error> {
    let line = format!("IdentityFile {}", key.display());
    let current = match fs::read_to_string(config) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Write {
                path: config.to_owned(),
                source,
            });
        }
    };
    if !current.lines().any(|l| l.trim() == line) {
        return Ok(());
    }
    let kept: String = current
        .split_inclusive('\n')
        .filter(|l| l.trim() != line)
        .collect();
    let mode = fs::metadata(config)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0o600);
    opk_files::write_atomic(config, kept.as_bytes(), mode)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configure_adds_the_include_once_and_keeps_the_config() {
        let home = tempfile::tempdir().expect("tmp");
        let h = home.path();
        fs::create_dir_all(h.join(".ssh")).expect("mkdir");
        fs::write(h.join(".ssh/config"), "Host x\n  User y\n").expect("w");
        fs::set_permissions(h.join(".ssh/config"), fs::Permissions::from_mode(0o644))
            .expect("chmod");
        assert!(configure_identity_dir(h).expect("configure"));
        assert_eq!(
            fs::read_to_string(h.join(".ssh/config")).expect("r"),
            "Include ~/.ssh/opkssh/config\n\nHost x\n  User y\n"
        );
        let mode = |p: &str| fs::metadata(h.join(p)).expect("m").permissions().mode() & 0o777;
        assert_eq!(mode(".ssh/config"), 0o644);
        assert_eq!(mode(".ssh/opkssh"), 0o700);
        assert_eq!(mode(".ssh/opkssh/config"), 0o600);
        assert!(!configure_identity_dir(h).expect("again"));
        // Now the login uses the per-provider name there.
        let loc = choose(h, None, KeyAlgorithm::EcdsaP256, "https://op.example", "c").expect("loc");
        assert_eq!(loc.key, h.join(".ssh/opkssh/op.example-c"));
        // A fresh home gets both files.
        let fresh = tempfile::tempdir().expect("tmp");
        assert!(configure_identity_dir(fresh.path()).expect("fresh"));
        assert!(fresh.path().join(".ssh/opkssh/config").is_file());
    }

    #[test]
    fn explicit_path_refuses_a_foreign_key_and_unwritable_dirs() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = dir.path().join("work");
        let loc = choose(dir.path(), Some(&key), KeyAlgorithm::EcdsaP256, "i", "a").expect("loc");
        check_destination(&loc, true, false).expect("free path");
        fs::write(&key, "someone's key").expect("w");
        assert!(matches!(
            check_destination(&loc, true, false),
            Err(Error::NotOurKey(p)) if p == key
        ));
        // A cert line that is not an opk certificate does not make the key ours.
        fs::write(
            &loc.cert,
            "ssh-ed25519-cert-v01@openssh.com AAAA openpubkey",
        )
        .expect("w");
        assert!(matches!(
            check_destination(&loc, true, false),
            Err(Error::NotOurKey(_))
        ));
        check_destination(&loc, true, true).expect("--force");
        // A missing directory is checked at the nearest existing parent.
        let deep = dir.path().join("a/b/k");
        let loc = choose(dir.path(), Some(&deep), KeyAlgorithm::EcdsaP256, "i", "a").expect("loc");
        check_destination(&loc, true, false).expect("creatable");
        // /proc refuses new files even to root, so this holds whoever runs the test.
        let proc_key = Path::new("/proc/opk-no-such-dir/k");
        let loc = choose(
            dir.path(),
            Some(proc_key),
            KeyAlgorithm::EcdsaP256,
            "i",
            "a",
        )
        .expect("loc");
        assert!(matches!(
            check_destination(&loc, true, false),
            Err(Error::NotWritable { dir, .. }) if dir == Path::new("/proc")
        ));
    }

    #[test]
    fn opkssh_identity_names() {
        assert_eq!(
            identity_file_name(
                "https://accounts.google.com",
                "206584157355-7cbe4s640tvm7naoludob4ut1emii7sf.apps"
            ),
            "accounts.google.com-206584157355-7cbe4s6"
        );
        assert_eq!(
            identity_file_name("http://localhost:3000/a b", "c"),
            "http_localhost_3000_a_b-c"
        );
    }

    #[test]
    fn precedence_and_ownership() {
        let home = tempfile::tempdir().expect("tmp");
        let h = home.path();
        let loc = choose(h, None, KeyAlgorithm::EcdsaP256, "https://op", "aud").expect("free");
        assert_eq!(loc.key, h.join(".ssh/id_ecdsa"));
        // A user's own id_ecdsa (no cert) is skipped, never overwritten.
        fs::create_dir_all(h.join(".ssh")).expect("mkdir");
        fs::write(h.join(".ssh/id_ecdsa"), "mine").expect("w");
        let loc = choose(h, None, KeyAlgorithm::EcdsaP256, "https://op", "aud").expect("sk slot");
        assert_eq!(loc.key, h.join(".ssh/id_ecdsa_sk"));
        // A pair whose cert comment is exactly "openpubkey" is replaced.
        fs::write(
            h.join(".ssh/id_ecdsa-cert.pub"),
            "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAA openpubkey",
        )
        .expect("w");
        assert_eq!(
            choose(h, None, KeyAlgorithm::EcdsaP256, "i", "a")
                .expect("ours")
                .key,
            h.join(".ssh/id_ecdsa")
        );
        fs::write(
            h.join(".ssh/id_ecdsa-cert.pub"),
            "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAA someone",
        )
        .expect("w");
        fs::write(h.join(".ssh/id_ecdsa_sk"), "mine too").expect("w");
        assert!(matches!(
            choose(h, None, KeyAlgorithm::EcdsaP256, "i", "a"),
            Err(Error::NoFreeKeyFile(_))
        ));
        // -i always wins (H-8), even over a configured ~/.ssh/opkssh.
        fs::create_dir_all(h.join(".ssh/opkssh")).expect("mkdir");
        fs::write(h.join(".ssh/opkssh/config"), "").expect("w");
        fs::write(h.join(".ssh/config"), "Include ~/.ssh/opkssh/config\n").expect("w");
        let explicit = h.join("k");
        assert_eq!(
            choose(h, Some(&explicit), KeyAlgorithm::Ed25519, "i", "a")
                .expect("explicit")
                .key,
            explicit
        );
        let loc = choose(
            h,
            None,
            KeyAlgorithm::Ed25519,
            "https://op.example",
            "client",
        )
        .expect("opkssh dir");
        assert_eq!(loc.key, h.join(".ssh/opkssh/op.example-client"));
        write_pair(&loc, "KEY", "CERT").expect("write");
        assert!(
            fs::read_to_string(h.join(".ssh/opkssh/config"))
                .expect("r")
                .starts_with("IdentityFile ")
        );
        let mode = fs::metadata(&loc.key).expect("m").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            fs::metadata(&loc.cert).expect("m").permissions().mode() & 0o777,
            0o644
        );
    }
}
