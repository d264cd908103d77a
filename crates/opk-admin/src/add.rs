//! `opk add PRINCIPAL IDENTITY ISSUER`: add one row to a policy file, as opkssh does.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::{AdminPaths, Error};

/// One `opk add`.
#[derive(Debug, Clone, Copy)]
pub struct AddRequest<'a> {
    /// Account name on this host.
    pub principal: &'a str,
    /// Email, subject, `oidc:CLAIM:VALUE`, ...
    pub identity: &'a str,
    /// Issuer URL or one of opkssh's aliases (`google`, `azure`, ...).
    pub issuer: &'a str,
    /// The policy file to edit; `None` means [`default_auth_id`].
    pub auth_id_file: Option<&'a Path>,
}

/// Adds the row unless it is already there; returns the policy file used.
///
/// A new file's directory is created 0750. A new home policy (`.opk/auth_id`) is 0600, which
/// verify demands of it; any other new file is 0640. An existing file keeps its mode, owner and
/// group (root:opksshuser must stay readable by verify).
pub fn add(paths: &AdminPaths, req: &AddRequest<'_>) -> Result<PathBuf, Error> {
    let path = match req.auth_id_file {
        Some(p) => p.to_owned(),
        None => default_auth_id(paths, req.principal)?,
    };
    let existing = read_policy(&path)?;
    let issuer = opk_policy::issuer_alias(req.issuer);
    let outcome =
        opk_policy::add_row(&existing, req.principal, req.identity, issuer).map_err(Error::Row)?;
    if !outcome.changed {
        return Ok(path);
    }
    let new_mode = if path.ends_with(".opk/auth_id") {
        0o600
    } else {
        0o640
    };
    opk_files::create_parent_dirs(&path, 0o750).map_err(|e| Error::CreateDir {
        dir: e.path,
        source: e.source,
    })?;
    opk_files::rewrite(&path, outcome.contents.as_bytes(), new_mode).map_err(Error::WritePolicy)?;
    Ok(path)
}

/// The current contents, empty for a missing file.
fn read_policy(path: &Path) -> Result<Vec<u8>, Error> {
    let read_err = |source| Error::ReadPolicy {
        path: path.to_owned(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > opk_policy::MAX_FILE_BYTES as u64 => Err(Error::PolicyTooLarge {
            path: path.to_owned(),
            max: opk_policy::MAX_FILE_BYTES,
        }),
        Ok(_) => std::fs::read(path).map_err(read_err),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(read_err(e)),
    }
}

/// opkssh's choice of file for `add`: the system policy, or — only when it exists but cannot be
/// written — the principal's own `~/.opk/auth_id`. A missing system policy is an installation
/// problem, not something `add` should paper over by creating it with the wrong group.
pub fn default_auth_id(paths: &AdminPaths, principal: &str) -> Result<PathBuf, Error> {
    let opened = std::fs::OpenOptions::new()
        .append(true)
        .open(&paths.auth_id)
        .map(drop);
    choose_auth_id(paths, principal, opened)
}

/// [`default_auth_id`] once the system policy was opened for appending (split out so the
/// permission-denied branch is testable as root).
fn choose_auth_id(
    paths: &AdminPaths,
    principal: &str,
    opened: std::io::Result<()>,
) -> Result<PathBuf, Error> {
    match opened {
        Ok(()) => Ok(paths.auth_id.clone()),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            let account = opk_files::lookup_account(&paths.passwd, principal).ok_or_else(|| {
                Error::NoHome {
                    system: paths.auth_id.clone(),
                    principal: principal.to_owned(),
                    passwd: paths.passwd.clone(),
                }
            })?;
            Ok(account.home.join(".opk/auth_id"))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Err(Error::NoSystemPolicy(paths.auth_id.clone()))
        }
        Err(source) => Err(Error::OpenSystemPolicy {
            path: paths.auth_id.clone(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn paths(dir: &Path) -> AdminPaths {
        AdminPaths {
            auth_id: dir.join("etc/auth_id"),
            passwd: dir.join("passwd"),
        }
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
    }

    fn req<'a>(principal: &'a str, file: Option<&'a Path>) -> AddRequest<'a> {
        AddRequest {
            principal,
            identity: "alice@example.com",
            issuer: "google",
            auth_id_file: file,
        }
    }

    #[test]
    fn adds_once_to_the_system_policy_keeping_its_mode() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = paths(dir.path());
        std::fs::create_dir(dir.path().join("etc")).expect("mkdir");
        std::fs::write(&p.auth_id, "# installed\n").expect("write");
        std::fs::set_permissions(&p.auth_id, std::fs::Permissions::from_mode(0o604))
            .expect("chmod");
        assert_eq!(add(&p, &req("alice", None)).expect("add"), p.auth_id);
        assert_eq!(add(&p, &req("alice", None)).expect("again"), p.auth_id);
        let text = std::fs::read_to_string(&p.auth_id).expect("read");
        assert_eq!(
            text,
            "# installed\nalice alice@example.com https://accounts.google.com\n"
        );
        assert_eq!(mode(&p.auth_id), 0o604);
    }

    #[test]
    fn new_files_get_private_modes() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = paths(dir.path());
        let home = dir.path().join("home/alice/.opk/auth_id");
        add(&p, &req("alice", Some(&home))).expect("home policy");
        assert_eq!(
            (mode(&home), mode(home.parent().expect("dir"))),
            (0o600, 0o750)
        );
        let other = dir.path().join("policy");
        add(&p, &req("alice", Some(&other))).expect("other policy");
        assert_eq!(mode(&other), 0o640);
    }

    #[test]
    fn refuses_bad_rows_and_oversized_files_without_writing() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = paths(dir.path());
        let file = dir.path().join("auth_id");
        let err = add(&p, &req("guest,root", Some(&file))).expect_err("H-1");
        assert!(matches!(err, Error::Row(_)), "{err}");
        assert!(!file.exists());
        std::fs::write(&file, vec![b'#'; opk_policy::MAX_FILE_BYTES + 1]).expect("write");
        let err = add(&p, &req("alice", Some(&file))).expect_err("too large");
        assert!(matches!(err, Error::PolicyTooLarge { .. }), "{err}");
    }

    #[test]
    fn default_file_is_the_system_policy_or_the_home_when_not_writable() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = paths(dir.path());
        let err = default_auth_id(&p, "alice").expect_err("missing");
        assert!(
            matches!(&err, Error::NoSystemPolicy(f) if *f == p.auth_id),
            "{err}"
        );
        assert!(err.to_string().contains("or pass --auth-id-file"), "{err}");

        let denied = || Err(std::io::Error::from(ErrorKind::PermissionDenied));
        let err = choose_auth_id(&p, "alice", denied()).expect_err("no passwd entry");
        assert!(matches!(err, Error::NoHome { .. }), "{err}");
        std::fs::write(&p.passwd, "alice:x:1000:1000::/home/alice:/bin/sh\n").expect("passwd");
        assert_eq!(
            choose_auth_id(&p, "alice", denied()).expect("home"),
            Path::new("/home/alice/.opk/auth_id")
        );
        let other = Err(std::io::Error::from(ErrorKind::IsADirectory));
        assert!(matches!(
            choose_auth_id(&p, "alice", other),
            Err(Error::OpenSystemPolicy { .. })
        ));

        std::fs::create_dir(dir.path().join("etc")).expect("mkdir");
        std::fs::write(&p.auth_id, "").expect("write");
        assert_eq!(default_auth_id(&p, "alice").expect("system"), p.auth_id);
    }
}
