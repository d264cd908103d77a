//! Reading the server's policy files safely: size cap, regular file, not writable by others,
//! symlinks not followed for home policies (hazard H-6 in docs/hazards.md: check the same fd
//! that is read), and never blocked by a FIFO or a device in a file's place.

use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use opk_files::{OpenError, Symlinks};

use crate::{Error, UnsafeFile, UnsafeHomeFile};

/// The policy parsers' own cap: refuse bigger files before reading them.
const MAX_POLICY_FILE: u64 = opk_policy::MAX_FILE_BYTES as u64;

/// Who must own a file read by [`read_checked`].
pub(crate) enum Owner {
    /// System files: owned by root (or the verify user) and not writable by group or others, the
    /// same rule as the JWKS cache ([`opk_files::trust_problem`]). opkssh requires exactly 0640;
    /// 0600 and 0644 work here too.
    System,
    /// A user's `~/.opk/auth_id`: owned by that uid, mode 0600, no symlink (as opkssh readhome).
    User(u32),
}

/// Reads a policy file after checking it on the very descriptor that is read.
pub(crate) fn read_checked(path: &Path, owner: Owner) -> Result<Vec<u8>, Error> {
    let read_err = |error| Error::Read {
        path: path.to_owned(),
        error,
    };
    let symlinks = match owner {
        Owner::System => Symlinks::Follow,
        Owner::User(_) => Symlinks::Refuse,
    };
    let (file, meta) = opk_files::open_regular(path, symlinks).map_err(|e| match e {
        OpenError::NotRegular(kind) => Error::NotRegular {
            path: path.to_owned(),
            kind,
        },
        OpenError::Io(error) => read_err(error),
    })?;
    match owner {
        Owner::System => {
            if let Some(problem) = opk_files::trust_problem(&meta) {
                return Err(Error::UnsafeFile {
                    path: path.to_owned(),
                    problem: UnsafeFile::Untrusted(problem),
                });
            }
        }
        Owner::User(uid) => {
            let problem = if meta.uid() != uid {
                Some(UnsafeHomeFile::NotOwner)
            } else if meta.mode() & 0o777 != 0o600 {
                Some(UnsafeHomeFile::Mode)
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(Error::UnsafeHomeFile {
                    path: path.to_owned(),
                    problem,
                });
            }
        }
    }
    if meta.len() > MAX_POLICY_FILE {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            max: MAX_POLICY_FILE,
        });
    }
    let mut contents = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_POLICY_FILE + 1)
        .read_to_end(&mut contents)
        .map_err(read_err)?;
    if contents.len() as u64 > MAX_POLICY_FILE {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            max: MAX_POLICY_FILE,
        });
    }
    Ok(contents)
}
