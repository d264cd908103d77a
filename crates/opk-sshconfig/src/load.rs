//! The only code here that touches the disk: capped reads, the permission rule OpenSSH applies
//! to config files, and `Include` resolution.

use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use crate::config::{MAX_CONFIG_LEN, MAX_INCLUDE_DEPTH, SshConfig};
use crate::{ConfigProblem, Error};

/// Reads `path` as UTF-8 (lossily) if it exists; `None` if it does not. Refuses files above `max`.
pub(crate) fn read_capped(path: &Path, max: u64) -> Result<Option<String>, Error> {
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    let mut buf = Vec::new();
    // Read one byte past the cap so a file that grows while we read is still caught.
    f.take(max + 1).read_to_end(&mut buf).map_err(read_err)?;
    if buf.len() as u64 > max {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            len: buf.len() as u64,
            max,
        });
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// OpenSSH's `secure_permissions` for config files: owned by us or root, not group/world
/// writable (a file others can write could point IdentityFile or ProxyJump anywhere).
fn check_owner(path: &Path) -> Result<(), Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let euid = rustix::process::geteuid().as_raw();
    if (meta.uid() != euid && meta.uid() != 0) || meta.mode() & 0o022 != 0 {
        return Err(Error::BadPermissions {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Reads the ssh_config at `path` (missing: empty config) and the files its `Include`s name,
/// recursively. Relative Include paths are taken from `include_dir` (`~/.ssh` for the user's
/// file, `/etc/ssh` for the system one); `~` means `home`. Glob matches are read in sorted
/// order; a pattern matching nothing is skipped, as in OpenSSH.
pub fn load_config(path: &Path, include_dir: &Path, home: &Path) -> Result<SshConfig, Error> {
    load_depth(path, include_dir, home, 0)?.map_or_else(|| Ok(SshConfig::default()), Ok)
}

fn load_depth(
    path: &Path,
    include_dir: &Path,
    home: &Path,
    depth: usize,
) -> Result<Option<SshConfig>, Error> {
    let Some(text) = read_capped(path, MAX_CONFIG_LEN)? else {
        return Ok(None);
    };
    check_owner(path)?;
    let mut cfg = SshConfig::parse(path, &text)?;
    for (line, patterns, files) in cfg.includes_mut() {
        let err = |problem| Error::Config {
            path: path.to_path_buf(),
            line,
            problem,
        };
        if depth + 1 > MAX_INCLUDE_DEPTH {
            return Err(err(ConfigProblem::IncludeTooDeep(MAX_INCLUDE_DEPTH)));
        }
        for pat in patterns {
            let full = include_path(pat, include_dir, home)
                .map_err(|()| err(ConfigProblem::TildeUser(pat.clone())))?;
            let pattern = full.to_string_lossy();
            let paths =
                glob::glob(&pattern).map_err(|_| err(ConfigProblem::BadInclude(pat.clone())))?;
            let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
            matched.sort();
            for m in matched {
                if let Some(sub) = load_depth(&m, include_dir, home, depth + 1)? {
                    files.push(sub);
                }
            }
        }
    }
    Ok(Some(cfg))
}

fn include_path(pat: &str, include_dir: &Path, home: &Path) -> Result<PathBuf, ()> {
    if pat == "~" {
        Ok(home.to_path_buf())
    } else if let Some(rest) = pat.strip_prefix("~/") {
        Ok(home.join(rest))
    } else if pat.starts_with('~') {
        Err(())
    } else {
        Ok(include_dir.join(pat))
    }
}
