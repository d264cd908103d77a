//! Local files opk writes and trusts.
//!
//! - [`stage`] + [`Staged::commit`] (or [`write_atomic`]): a temp file in the target's directory,
//!   written, fsynced and given its mode, then renamed over the target. Readers see the old or the
//!   new file, never a mix; a failure before the rename leaves the old file as it was. Staging
//!   several files before committing any keeps a set (key + certificate) whole on failure;
//!   [`create_parent_dirs`] first where the directory may not exist yet.
//! - [`trust_problem`]: whether a file others could write is about to decide who logs in.
//! - [`lookup_account`]: a passwd-format file read by hand, on purpose: a path tests can point
//!   elsewhere, and no NSS call (getpwnam) from the login path.
//! - [`open_regular`]: a file that must be a regular file, opened so that a FIFO or a device in
//!   its place can neither block the reader nor be opened at all (hazard R-3 in docs/hazards.md).
#![forbid(unsafe_code)]

use std::fs::{File, Metadata, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// A failed write, naming the file; the I/O error is its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}", path.display())]
#[non_exhaustive]
pub struct Error {
    /// The file that was to be written.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// Why a file must not decide logins ([`trust_problem`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustProblem {
    /// Owned by someone other than root or the current user.
    #[error("owned by uid {owner} (neither root nor this user, uid {euid})")]
    Owner {
        /// The file's owner.
        owner: u32,
        /// The effective uid of this process.
        euid: u32,
    },
    /// Group or others may write it.
    #[error("writable by group or others (mode {mode:o})")]
    Writable {
        /// The permission bits (`& 0o7777`).
        mode: u32,
    },
}

/// What a path was when a regular file was expected ([`OpenError::NotRegular`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileKind {
    /// A directory.
    #[error("a directory")]
    Directory,
    /// A named pipe: reading it would wait for a writer.
    #[error("a FIFO")]
    Fifo,
    /// A character device (`/dev/zero`, a tty).
    #[error("a character device")]
    CharDevice,
    /// A block device.
    #[error("a block device")]
    BlockDevice,
    /// A Unix socket.
    #[error("a socket")]
    Socket,
    /// A symbolic link, where links are not followed.
    #[error("a symbolic link")]
    Symlink,
    /// A type the platform has and this list does not.
    #[error("a special file")]
    Other,
}

impl FileKind {
    fn of(file_type: std::fs::FileType) -> Option<Self> {
        use std::fs::FileType;
        use std::os::unix::fs::FileTypeExt;
        type Test = fn(&FileType) -> bool;
        const KINDS: [(Test, FileKind); 6] = [
            (FileType::is_dir, FileKind::Directory),
            (FileTypeExt::is_fifo, FileKind::Fifo),
            (FileTypeExt::is_char_device, FileKind::CharDevice),
            (FileTypeExt::is_block_device, FileKind::BlockDevice),
            (FileTypeExt::is_socket, FileKind::Socket),
            (FileType::is_symlink, FileKind::Symlink),
        ];
        if file_type.is_file() {
            return None;
        }
        let kind = KINDS.iter().find(|(is, _)| is(&file_type));
        Some(kind.map_or(Self::Other, |&(_, kind)| kind))
    }
}

/// Why [`open_regular`] gave no file.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// It could not be examined or opened (missing, no permission, a symlink swapped in: ELOOP).
    #[error("{0}")]
    Io(std::io::Error),
    /// It is not a regular file.
    #[error("it is {0}, not a regular file")]
    NotRegular(FileKind),
}

/// Whether [`open_regular`] follows a symbolic link at the path's last component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symlinks {
    /// Follow it (root's files: `/etc` is a tree of symlinks on NixOS, for one).
    Follow,
    /// Refuse it (a file its owner could point anywhere: a user's home policy).
    Refuse,
}

/// Opens `path` for reading only if it is a regular file, and returns it with the metadata of the
/// descriptor itself, so that checks on owner and mode are made on what is read.
///
/// The type is checked twice: on the path first, so that a device is never opened (opening a
/// tape or a tty can act on it), then on the open descriptor, which is what counts. The open
/// itself is non-blocking (a FIFO swapped in between opens at once instead of waiting for a
/// writer), takes no controlling terminal, and with [`Symlinks::Refuse`] does not follow a link.
pub fn open_regular(path: &Path, symlinks: Symlinks) -> Result<(File, Metadata), OpenError> {
    use rustix::fs::{Mode, OFlags};
    let before = match symlinks {
        Symlinks::Follow => std::fs::metadata(path),
        Symlinks::Refuse => std::fs::symlink_metadata(path),
    }
    .map_err(OpenError::Io)?;
    if let Some(kind) = FileKind::of(before.file_type()) {
        return Err(OpenError::NotRegular(kind));
    }
    let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    if symlinks == Symlinks::Refuse {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = rustix::fs::open(path, flags, Mode::empty())
        .map_err(|e| OpenError::Io(std::io::Error::from(e)))?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(OpenError::Io)?;
    if let Some(kind) = FileKind::of(meta.file_type()) {
        return Err(OpenError::NotRegular(kind));
    }
    Ok((file, meta))
}

/// New content for `dest`, complete on disk but not yet in place.
#[must_use = "a staged file replaces nothing until it is committed"]
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

/// Writes `contents` to a temp file next to `dest` with `mode`. The temp file is created 0600,
/// so secret content is never readable by others, even briefly.
pub fn stage(dest: &Path, contents: &[u8], mode: u32) -> Result<Staged, Error> {
    let err = |source| Error {
        path: dest.to_owned(),
        source,
    };
    let dir = parent_dir(dest);
    let mut tmp = tempfile::Builder::new()
        .prefix(".opk-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(contents).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(err)?;
    Ok(Staged {
        tmp,
        dest: dest.to_owned(),
    })
}

impl Staged {
    /// Gives the staged file this owner and group before it replaces the old one. Rewriting a
    /// file must not change who may read it: `/etc/opk/auth_id` is root:opksshuser 0640, and a
    /// replacement owned root:root would lock the verify user out of the policy.
    pub fn with_owner(self, uid: u32, gid: u32) -> Result<Self, Error> {
        std::os::unix::fs::fchown(self.tmp.as_file(), Some(uid), Some(gid)).map_err(|source| {
            Error {
                path: self.dest.clone(),
                source,
            }
        })?;
        Ok(self)
    }

    /// The staged file's own path (for a check such as `visudo -cf` before it is committed).
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Renames the staged file over the destination, then makes the rename durable (best effort:
    /// the rename itself already happened atomically).
    pub fn commit(self) -> Result<(), Error> {
        let dest = self.dest;
        self.tmp.persist(&dest).map_err(|e| Error {
            path: dest.clone(),
            source: e.error,
        })?;
        if let Ok(dir) = File::open(parent_dir(&dest)) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// Puts several staged files in place as one unit: if any rename fails, the ones already renamed
/// are rolled back (the previous content restored from hard-link backups taken first, or a file
/// that did not exist removed again). A key and its certificate are never left from two logins.
pub fn commit_all(staged: Vec<Staged>) -> Result<(), Error> {
    let mut backups = Vec::with_capacity(staged.len());
    for s in &staged {
        backups.push(backup(&s.dest)?);
    }
    let mut done: Vec<(PathBuf, Option<tempfile::NamedTempFile<()>>)> = Vec::new();
    let mut backups = backups.into_iter();
    for s in staged {
        let dest = s.dest.clone();
        let backup = backups.next().flatten();
        if let Err(e) = s.commit() {
            for (path, backup) in done.into_iter().rev() {
                // Best effort: the error that is returned is the one that stopped the commit.
                let _ = match backup {
                    Some(b) => b.persist(&path).map(drop).map_err(|e| e.error),
                    None => std::fs::remove_file(&path),
                };
            }
            return Err(e);
        }
        done.push((dest, backup));
    }
    Ok(()) // the backups' names are removed as they drop
}

/// A hard link to `dest`'s current content, if it is a regular file; removed when dropped.
fn backup(dest: &Path) -> Result<Option<tempfile::NamedTempFile<()>>, Error> {
    match std::fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_file() => tempfile::Builder::new()
            .prefix(".opk-backup-")
            .make_in(parent_dir(dest), |tmp| std::fs::hard_link(dest, tmp))
            .map(Some)
            .map_err(|source| Error {
                path: dest.to_owned(),
                source,
            }),
        _ => Ok(None),
    }
}

/// Creates the missing directories above `file`, each with `mode`, before a first write there
/// (a new `~/.ssh/known_hosts`, a new `~/.opk/auth_id`); the error names the directory.
pub fn create_parent_dirs(file: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt as _;
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(dir)
            .map_err(|source| Error {
                path: dir.to_owned(),
                source,
            }),
        _ => Ok(()),
    }
}

/// [`stage`] then [`Staged::commit`].
pub fn write_atomic(dest: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    stage(dest, contents, mode)?.commit()
}

/// Replaces an existing file keeping its mode, owner and group; creates a missing one with
/// `new_mode`.
pub fn rewrite(dest: &Path, contents: &[u8], new_mode: u32) -> Result<(), Error> {
    match std::fs::metadata(dest) {
        Ok(meta) => stage(dest, contents, meta.mode() & 0o7777)?
            .with_owner(meta.uid(), meta.gid())?
            .commit(),
        Err(_) => write_atomic(dest, contents, new_mode),
    }
}

/// An account from a passwd-format file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Numeric user id.
    pub uid: u32,
    /// Numeric id of the primary group.
    pub gid: u32,
    /// Home directory.
    pub home: PathBuf,
}

/// Looks `name` up in a passwd-format file (`/etc/passwd`). NSS-only accounts (LDAP, SSSD) are
/// not seen, as with opkssh's audit.
pub fn lookup_account(passwd: &Path, name: &str) -> Option<Account> {
    let text = std::fs::read_to_string(passwd).ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() >= 7 && fields[0] == name {
            Some(Account {
                uid: fields[2].parse().ok()?,
                gid: fields[3].parse().ok()?,
                home: PathBuf::from(fields[5]),
            })
        } else {
            None
        }
    })
}

fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Why a file or directory must not be trusted to decide logins, if it must not: it is owned by
/// someone other than root or the current user, or group or others may write it. Whoever can
/// write the providers file, the policy or the JWKS cache can let anyone in.
pub fn trust_problem(meta: &Metadata) -> Option<TrustProblem> {
    let euid = rustix::process::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != euid {
        Some(TrustProblem::Owner {
            owner: meta.uid(),
            euid,
        })
    } else if meta.mode() & 0o022 != 0 {
        Some(TrustProblem::Writable {
            mode: meta.mode() & 0o7777,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_atomically_with_the_mode_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("f");
        std::fs::write(&p, "old").expect("w");
        write_atomic(&p, b"new", 0o640).expect("write");
        assert_eq!(std::fs::read_to_string(&p).expect("r"), "new");
        assert_eq!(
            std::fs::metadata(&p).expect("m").permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }

    #[test]
    fn a_staged_file_that_is_dropped_changes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("f");
        std::fs::write(&p, "old").expect("w");
        drop(stage(&p, b"new", 0o600).expect("stage"));
        assert_eq!(std::fs::read_to_string(&p).expect("r"), "old");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }

    #[test]
    fn commit_all_rolls_back_when_a_later_rename_fails() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = dir.path().join("key");
        let cert = dir.path().join("key-cert.pub");
        std::fs::write(&key, "OLD KEY").expect("w");
        // A directory where the certificate should go: its rename must fail.
        std::fs::create_dir(&cert).expect("mkdir");
        std::fs::write(cert.join("inside"), "x").expect("w");
        let staged = vec![
            stage(&key, b"NEW KEY", 0o600).expect("stage"),
            stage(&cert, b"NEW CERT", 0o644).expect("stage"),
        ];
        assert!(commit_all(staged).is_err());
        assert_eq!(std::fs::read_to_string(&key).expect("r"), "OLD KEY");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("e").file_name())
            .collect();
        assert_eq!(names.len(), 2, "leftovers: {names:?}");
        // A file that did not exist before is removed again.
        std::fs::remove_file(&key).expect("rm");
        let staged = vec![
            stage(&key, b"NEW KEY", 0o600).expect("stage"),
            stage(&cert, b"NEW CERT", 0o644).expect("stage"),
        ];
        assert!(commit_all(staged).is_err());
        assert!(!key.exists());
        // And when nothing fails, both land and no backup is left.
        std::fs::remove_dir_all(&cert).expect("rm");
        std::fs::write(&key, "OLD KEY").expect("w");
        let staged = vec![
            stage(&key, b"NEW KEY", 0o600).expect("stage"),
            stage(&cert, b"NEW CERT", 0o644).expect("stage"),
        ];
        commit_all(staged).expect("commit");
        assert_eq!(std::fs::read_to_string(&key).expect("r"), "NEW KEY");
        assert_eq!(std::fs::read_to_string(&cert).expect("r"), "NEW CERT");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 2);
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_file() {
        let err =
            write_atomic(Path::new("/nonexistent-opk-dir/f"), b"x", 0o600).expect_err("no dir");
        assert_eq!(err.to_string(), "cannot write /nonexistent-opk-dir/f");
        assert_eq!(err.source.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn rewrite_keeps_mode_owner_and_group() {
        // CI and developers run as root here; chown to another group needs it.
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("auth_id");
        std::fs::write(&p, "old").expect("w");
        std::fs::set_permissions(&p, Permissions::from_mode(0o640)).expect("chmod");
        std::os::unix::fs::chown(&p, None, Some(1)).expect("chgrp 1 (needs root)");
        rewrite(&p, b"new", 0o600).expect("rewrite");
        let meta = std::fs::metadata(&p).expect("m");
        assert_eq!((meta.mode() & 0o777, meta.gid()), (0o640, 1));
        assert_eq!(std::fs::read_to_string(&p).expect("r"), "new");
        // A missing file gets the given mode.
        let q = dir.path().join("new");
        rewrite(&q, b"x", 0o600).expect("create");
        assert_eq!(std::fs::metadata(&q).expect("m").mode() & 0o777, 0o600);
    }

    #[test]
    fn passwd_lookup() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("passwd");
        std::fs::write(
            &p,
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbroken:x\n",
        )
        .expect("w");
        assert_eq!(
            lookup_account(&p, "alice"),
            Some(Account {
                uid: 1000,
                gid: 1000,
                home: "/home/alice".into()
            })
        );
        assert_eq!(lookup_account(&p, "broken"), None);
        assert_eq!(lookup_account(&p, "bob"), None);
    }

    #[test]
    fn open_regular_refuses_fifos_directories_devices_and_refused_links_at_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("file");
        std::fs::write(&file, "rows").expect("w");
        let fifo = dir.path().join("fifo");
        opk_testkit::fs::mkfifo(&fifo);
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        let kind = |path: &Path, symlinks| match open_regular(path, symlinks) {
            Err(OpenError::NotRegular(kind)) => Some(kind),
            Err(OpenError::Io(e)) => panic!("{}: {e}", path.display()),
            Ok(_) => None,
        };
        for symlinks in [Symlinks::Follow, Symlinks::Refuse] {
            // Nobody ever writes to the FIFO: a blocking open would never return.
            assert_eq!(kind(&fifo, symlinks), Some(FileKind::Fifo));
            assert_eq!(kind(dir.path(), symlinks), Some(FileKind::Directory));
            assert_eq!(kind(&file, symlinks), None);
        }
        assert_eq!(kind(&zero, Symlinks::Follow), Some(FileKind::CharDevice));
        assert_eq!(kind(&zero, Symlinks::Refuse), Some(FileKind::Symlink));
        assert_eq!(kind(&link, Symlinks::Refuse), Some(FileKind::Symlink));
        let (mut opened, meta) = open_regular(&link, Symlinks::Follow).expect("followed");
        assert!(meta.is_file());
        let mut text = String::new();
        std::io::Read::read_to_string(&mut opened, &mut text).expect("read");
        assert_eq!(text, "rows");
        assert_eq!(
            OpenError::NotRegular(FileKind::Fifo).to_string(),
            "it is a FIFO, not a regular file"
        );
        let missing = open_regular(&dir.path().join("none"), Symlinks::Follow);
        assert!(
            matches!(&missing, Err(OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound)
        );
    }

    #[test]
    fn trust_rules() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("f");
        std::fs::write(&p, "x").expect("w");
        for (mode, trusted) in [
            (0o600, true),
            (0o644, true),
            (0o640, true),
            (0o664, false),
            (0o646, false),
        ] {
            std::fs::set_permissions(&p, Permissions::from_mode(mode)).expect("chmod");
            let meta = std::fs::metadata(&p).expect("m");
            let want = (!trusted).then_some(TrustProblem::Writable { mode });
            assert_eq!(trust_problem(&meta), want, "{mode:o}");
        }
        assert_eq!(
            TrustProblem::Writable { mode: 0o664 }.to_string(),
            "writable by group or others (mode 664)"
        );
        // Another owner (tests run as root, so chown works).
        std::fs::set_permissions(&p, Permissions::from_mode(0o600)).expect("chmod");
        std::os::unix::fs::chown(&p, Some(4242), None).expect("chown (needs root)");
        let euid = rustix::process::geteuid().as_raw();
        let meta = std::fs::metadata(&p).expect("m");
        assert_eq!(
            trust_problem(&meta),
            Some(TrustProblem::Owner { owner: 4242, euid })
        );
    }
}
