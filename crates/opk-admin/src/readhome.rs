//! `opk readhome <principal>`: prints a user's `~/.opk/auth_id` for a verify that cannot read
//! homes itself (opkssh runs it as `sudo -n opkssh readhome %u` from an unprivileged
//! `AuthorizedKeysCommandUser`). Hazard H-6 in docs/hazards.md: the file is opened without
//! following a symlink, and its type, owner and mode are checked on that same descriptor, which
//! is then read, so nothing can be swapped in between.

use std::io::Read as _;
use std::path::Path;

use std::os::unix::fs::MetadataExt as _;

use crate::Error;

/// `(name, uid, home)` of every passwd line, in file order.
fn accounts(passwd: &str) -> impl Iterator<Item = (&str, u32, &str)> {
    passwd.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7).then_some(())?;
        Some((f[0], f[2].parse().ok()?, f[5]))
    })
}

/// The passwd file, if only root (or this user) could have written it: readhome runs as root
/// through sudo, whose rule (`readhome *`) lets the caller add the hidden `--passwd-file`, and a
/// file the caller wrote could send it to any `<dir>/.opk/auth_id`. Checked on the descriptor read.
fn read_passwd(passwd: &Path) -> Result<String, Error> {
    // Opened as root's files are (a FIFO or device is refused at once, R-3).
    let (mut file, meta) = match opk_files::open_regular(passwd, opk_files::Symlinks::Follow) {
        Ok(opened) => opened,
        // No user can be found in it: HomeNoUser names the file.
        Err(opk_files::OpenError::Io(_)) => return Ok(String::new()),
        Err(opk_files::OpenError::NotRegular(kind)) => {
            return Err(Error::HomeNotRegular {
                path: passwd.to_owned(),
                kind,
            });
        }
    };
    if let Some(problem) = opk_files::trust_problem(&meta) {
        return Err(Error::HomeUntrustedPasswd {
            path: passwd.to_owned(),
            source: problem,
        });
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|source| Error::HomeRead {
            path: passwd.to_owned(),
            source,
        })?;
    Ok(text)
}

/// The contents of `name`'s `~/.opk/auth_id`, homes and names taken from `passwd`, after the
/// checks opkssh's readhome makes: a valid name, no symlink, a regular file owned by that user
/// (uid and name) with mode exactly 0600.
pub fn read_home_policy(passwd: &Path, name: &str) -> Result<Vec<u8>, Error> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if !valid {
        return Err(Error::HomeBadName(name.to_owned()));
    }
    let table = read_passwd(passwd)?;
    let no_user = || Error::HomeNoUser {
        name: name.to_owned(),
        passwd: passwd.to_owned(),
    };
    let (_, uid, home) = accounts(&table).find(|a| a.0 == name).ok_or_else(no_user)?;
    let path = Path::new(home).join(".opk/auth_id");
    let (file, st) =
        opk_files::open_regular(&path, opk_files::Symlinks::Refuse).map_err(|e| match e {
            opk_files::OpenError::NotRegular(kind) => Error::HomeNotRegular {
                path: path.clone(),
                kind,
            },
            opk_files::OpenError::Io(source) => Error::HomeRead {
                path: path.clone(),
                source,
            },
        })?;
    // The owner's name too, as opkssh: a second passwd name sharing the uid must not pass.
    let owner_name = accounts(&table).find(|a| a.1 == st.uid()).map(|a| a.0);
    if st.uid() != uid || owner_name != Some(name) {
        return Err(Error::HomeOwner {
            path,
            uid: st.uid(),
            name: name.to_owned(),
        });
    }
    let mode = st.mode() & 0o7777;
    if mode != 0o600 {
        return Err(Error::HomeMode { path, mode });
    }
    let max = opk_policy::MAX_FILE_BYTES;
    let mut contents = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut contents)
        .map_err(|source| Error::HomeRead {
            path: path.clone(),
            source,
        })?;
    if contents.len() > max {
        return Err(Error::HomeTooLarge { path, max });
    }
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::PathBuf;

    /// A passwd file giving `alice` (uid of the test process) a home in `dir`, and `twin` the
    /// same uid listed first when `twin_first`.
    fn setup(twin_first: bool) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().expect("tmp");
        let home = dir.path().join("alice");
        std::fs::create_dir_all(home.join(".opk")).expect("mkdir");
        let uid = rustix::process::geteuid().as_raw();
        let alice = format!("alice:x:{uid}:{uid}::{}:/bin/sh\n", home.display());
        let twin = format!("twin:x:{uid}:{uid}::/nonexistent:/bin/sh\n");
        let passwd = dir.path().join("passwd");
        let text = if twin_first {
            twin + &alice
        } else {
            alice + &twin
        };
        std::fs::write(&passwd, text).expect("passwd");
        let file = home.join(".opk/auth_id");
        std::fs::write(&file, "alice a@example.com https://op.example\n").expect("w");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        (dir, passwd, file)
    }

    #[test]
    fn prints_a_0600_file_the_user_owns() {
        let (_d, passwd, _) = setup(false);
        let out = read_home_policy(&passwd, "alice").expect("read");
        assert_eq!(out, b"alice a@example.com https://op.example\n");
    }

    /// The caller of `sudo opk readhome --passwd-file F` must not choose the homes: a passwd file
    /// others could write (or one owned by another user) is refused before any home is opened.
    #[test]
    fn a_passwd_file_others_could_write_is_refused() {
        let (_d, passwd, _) = setup(false);
        std::fs::set_permissions(&passwd, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let e = read_home_policy(&passwd, "alice").expect_err("0666 passwd");
        assert!(matches!(e, Error::HomeUntrustedPasswd { .. }), "{e}");
        std::fs::set_permissions(&passwd, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::os::unix::fs::chown(&passwd, Some(4242), None).expect("chown (needs root)");
        let e = read_home_policy(&passwd, "alice").expect_err("foreign passwd");
        assert!(matches!(e, Error::HomeUntrustedPasswd { .. }), "{e}");
    }

    #[test]
    fn h6_refuses_symlinks_other_modes_and_bad_names() {
        let (d, passwd, file) = setup(false);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let e = read_home_policy(&passwd, "alice").expect_err("0640");
        assert!(matches!(e, Error::HomeMode { mode: 0o640, .. }), "{e}");
        assert!(
            e.to_string()
                .ends_with(&format!("fix: chmod 0600 {}", file.display()))
        );

        let real = d.path().join("elsewhere");
        std::fs::rename(&file, &real).expect("mv");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::os::unix::fs::symlink(&real, &file).expect("symlink");
        let e = read_home_policy(&passwd, "alice").expect_err("symlink");
        assert!(
            matches!(
                &e,
                Error::HomeNotRegular {
                    kind: opk_files::FileKind::Symlink,
                    ..
                }
            ),
            "{e:?}"
        );
        std::fs::remove_file(&file).expect("rm");
        // a FIFO nobody writes to is refused at once rather than waited on.
        opk_testkit::fs::mkfifo(&file);
        let e = read_home_policy(&passwd, "alice").expect_err("fifo");
        assert_eq!(
            e.to_string(),
            format!("{} is a FIFO, not a regular file", file.display())
        );

        for bad in ["", "Alice", "../alice", "al ice", "root;id"] {
            assert!(matches!(
                read_home_policy(&passwd, bad),
                Err(Error::HomeBadName(_))
            ));
        }
        assert!(matches!(
            read_home_policy(&passwd, "bob"),
            Err(Error::HomeNoUser { .. })
        ));
        std::fs::remove_file(&file).expect("rm");
        std::fs::create_dir(&file).expect("mkdir");
        assert!(matches!(
            read_home_policy(&passwd, "alice"),
            Err(Error::HomeNotRegular {
                kind: opk_files::FileKind::Directory,
                ..
            })
        ));
    }

    #[test]
    fn h6_the_owner_must_be_the_user_by_uid_and_by_name() {
        // A uid whose first passwd name is another user's.
        let (_d, passwd, _) = setup(true);
        let e = read_home_policy(&passwd, "alice").expect_err("twin");
        assert!(matches!(e, Error::HomeOwner { .. }), "{e}");
        // Another uid (needs root to give the file away; the tests run as root here).
        let (_d, passwd, file) = setup(false);
        if std::os::unix::fs::chown(&file, Some(65534), None).is_ok() {
            let e = read_home_policy(&passwd, "alice").expect_err("other uid");
            assert!(matches!(e, Error::HomeOwner { uid: 65534, .. }), "{e}");
        }
    }
}
