//! `opk permissions check|fix`: the ownership and mode rules verify applies to the server's files
//! (issue 8 item 6, hazard O-12 in docs/hazards.md), reported per file with the exact command
//! that fixes each problem, and applied by `fix`.
//!
//! The rule is opk verify's (`opk_files::trust_problem`): owned by root (or the user running
//! verify) and not writable by group or others. opkssh demands exactly 0640; opk accepts 0600 and
//! 0644 too, so `fix` only removes the write bits that make a file unsafe.

use std::fmt;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use opk_files::TrustProblem;

use crate::{Error, ServerFiles};

/// What is wrong with one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A file verify needs is missing.
    Missing,
    /// It is not the kind of file expected (a directory where a file belongs, or the reverse).
    WrongType,
    /// Owned by another user than root.
    Owner {
        /// The owner's uid.
        uid: u32,
    },
    /// Group or others may write it.
    Writable {
        /// Its mode.
        mode: u32,
    },
    /// Another reason verify distrusts it.
    Other(String),
}

/// One checked path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathReport {
    /// The path.
    pub path: PathBuf,
    /// A directory (`policy.d`) rather than a file.
    pub dir: bool,
    /// `fix` creates it (empty) when it is missing: the system policy only, as opkssh's fix.
    pub creatable: bool,
    /// Owner uid and mode (with type bits cleared), when it exists.
    pub stat: Option<(u32, u32)>,
    /// What is wrong; empty when nothing is.
    pub problems: Vec<Problem>,
}

/// A change `fix` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create an empty file with mode 0640 (the system policy, as opkssh's fix does).
    Create(PathBuf),
    /// Change the mode.
    Chmod(PathBuf, u32),
    /// Give the file to root (the group is kept).
    ChownRoot(PathBuf),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Create(p) => write!(f, "create {} (empty, mode 0640)", p.display()),
            Self::Chmod(p, mode) => write!(f, "chmod {mode:04o} {}", p.display()),
            Self::ChownRoot(p) => write!(f, "chown root {}", p.display()),
        }
    }
}

impl PathReport {
    /// The actions that fix this path's problems.
    pub fn fixes(&self) -> Vec<Action> {
        let p = self.path.clone();
        self.problems
            .iter()
            .filter_map(|problem| match problem {
                // A missing providers file needs its rows written by the admin.
                Problem::Missing if self.creatable => Some(Action::Create(p.clone())),
                Problem::Missing | Problem::WrongType | Problem::Other(_) => None,
                Problem::Owner { .. } => Some(Action::ChownRoot(p.clone())),
                Problem::Writable { mode } => Some(Action::Chmod(p.clone(), mode & !0o022)),
            })
            .collect()
    }

    /// One line per problem: the file, what is wrong and the exact fix.
    pub fn problem_lines(&self) -> Vec<String> {
        let p = self.path.display();
        self.problems
            .iter()
            .map(|problem| match problem {
                Problem::Missing if self.creatable => format!(
                    "{p} does not exist; create it: install -m 0640 -o root /dev/null {p} (or `opk permissions fix`)"
                ),
                Problem::Missing => format!(
                    "{p} does not exist; write it, mode 0640 owned by root, one row per OP: <issuer> <client_id> <expiry>"
                ),
                Problem::WrongType if self.dir => {
                    format!("{p} is not a directory; move it away and mkdir -m 0750 {p}")
                }
                Problem::WrongType => format!("{p} is not a regular file; replace it with one"),
                Problem::Owner { uid } => {
                    format!("{p} is owned by uid {uid}, not root; fix: chown root {p}")
                }
                Problem::Other(why) => format!("{p} is {why}; verify will not trust it"),
                Problem::Writable { mode } => format!(
                    "{p} is writable by group or others (mode {mode:04o}), so they could let anyone in; fix: chmod {:04o} {p}",
                    mode & !0o022
                ),
            })
            .collect()
    }
}

fn check_path(path: &Path, dir: bool, required: bool, creatable: bool) -> Option<PathReport> {
    let mut report = PathReport {
        path: path.to_owned(),
        dir,
        creatable,
        stat: None,
        problems: Vec::new(),
    };
    // Follows symlinks, as verify's open does for the system files.
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(_) if !required => return None,
        Err(_) => {
            report.problems.push(Problem::Missing);
            return Some(report);
        }
    };
    report.stat = Some((meta.uid(), meta.mode() & 0o7777));
    if meta.is_dir() != dir {
        report.problems.push(Problem::WrongType);
    }
    match opk_files::trust_problem(&meta) {
        Some(TrustProblem::Owner { owner, .. }) => {
            report.problems.push(Problem::Owner { uid: owner });
            if meta.mode() & 0o022 != 0 {
                report.problems.push(Problem::Writable {
                    mode: meta.mode() & 0o7777,
                });
            }
        }
        Some(TrustProblem::Writable { mode }) => report.problems.push(Problem::Writable { mode }),
        Some(other) => report.problems.push(Problem::Other(other.to_string())),
        None => {}
    }
    Some(report)
}

/// Checks the providers file and the system policy (both required), `config.yml` and
/// `policy.d` (when present).
pub fn check(files: &ServerFiles) -> Vec<PathReport> {
    [
        check_path(&files.auth_id, false, true, true),
        check_path(&files.providers, false, true, false),
        check_path(&files.config, false, false, false),
        check_path(&files.policy_d, true, false, false),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Applies `actions` in order; stops at the first that fails.
pub fn apply(actions: &[Action]) -> Result<(), Error> {
    for action in actions {
        let result = match action {
            Action::Create(p) => opk_files::write_atomic(p, b"", 0o640).map_err(Error::Create),
            Action::Chmod(p, mode) => {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(*mode)).map_err(
                    |source| Error::Fix {
                        action: action.to_string(),
                        source,
                    },
                )
            }
            Action::ChownRoot(p) => {
                std::os::unix::fs::chown(p, Some(0), None).map_err(|source| Error::Fix {
                    action: action.to_string(),
                    source,
                })
            }
        };
        result?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> ServerFiles {
        ServerFiles {
            providers: dir.join("providers"),
            auth_id: dir.join("auth_id"),
            config: dir.join("config.yml"),
            policy_d: dir.join("policy.d"),
            passwd: dir.join("passwd"),
        }
    }

    fn write(p: &Path, mode: u32) {
        std::fs::write(p, "x\n").expect("write");
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn safe_files_have_no_problem_and_optional_ones_are_skipped() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = files(dir.path());
        write(&f.auth_id, 0o640);
        write(&f.providers, 0o600);
        let reports = check(&f);
        assert_eq!(reports.len(), 2, "{reports:?}");
        assert!(reports.iter().all(|r| r.problems.is_empty()), "{reports:?}");
        assert_eq!(reports[0].stat.map(|s| s.1), Some(0o640));
    }

    #[test]
    fn unsafe_files_name_the_file_and_the_exact_fix_and_fix_applies_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = files(dir.path());
        write(&f.providers, 0o666);
        write(&f.config, 0o664);
        std::fs::create_dir(&f.policy_d).expect("mkdir");
        std::fs::set_permissions(&f.policy_d, std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let reports = check(&f);
        let lines: Vec<String> = reports.iter().flat_map(PathReport::problem_lines).collect();
        let p = |path: &Path| path.display().to_string();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(lines[0].starts_with(&format!("{} does not exist", p(&f.auth_id))));
        assert!(lines[1].ends_with(&format!("fix: chmod 0644 {}", p(&f.providers))));
        assert!(lines[2].ends_with(&format!("fix: chmod 0644 {}", p(&f.config))));
        assert!(lines[3].ends_with(&format!("fix: chmod 0755 {}", p(&f.policy_d))));
        let actions: Vec<Action> = reports.iter().flat_map(PathReport::fixes).collect();
        let shown: Vec<String> = actions.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown[0],
            format!("create {} (empty, mode 0640)", p(&f.auth_id))
        );
        apply(&actions).expect("fix");
        let after = check(&f);
        assert!(after.iter().all(|r| r.problems.is_empty()), "{after:?}");
        assert_eq!(after.len(), 4);
    }

    /// Needs root to give a file away (the tests run as root here); as another user it checks
    /// the report on a file we cannot chown and skips `fix`.
    #[test]
    fn a_file_owned_by_another_user_is_reported_and_given_to_root() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = files(dir.path());
        write(&f.auth_id, 0o640);
        write(&f.providers, 0o640);
        if std::os::unix::fs::chown(&f.auth_id, Some(65534), None).is_err() {
            return;
        }
        let reports = check(&f);
        assert_eq!(reports[0].problems, vec![Problem::Owner { uid: 65534 }]);
        assert_eq!(
            reports[0].problem_lines(),
            vec![format!(
                "{0} is owned by uid 65534, not root; fix: chown root {0}",
                f.auth_id.display()
            )]
        );
        apply(&reports[0].fixes()).expect("chown");
        assert!(check(&f).iter().all(|r| r.problems.is_empty()));
    }
}
