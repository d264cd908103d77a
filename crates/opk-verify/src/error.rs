//! Why `opk verify` denied a key. Every variant is a one-line reason for stderr and the log, and
//! says its cause in that line (none is a `source()`), as the wrapped crates' errors do: the
//! log line is all an admin gets.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::server_config::ConfigProblem;

/// A denial. `opk verify` prints it as `Error: <reason>`, prints nothing on stdout, exits 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `%k`/`%t` is not an opk certificate (sshd also calls us for plain keys: routine).
    #[error("offered key is not an opk certificate: {0}")]
    Cert(opk_sshcert::Error),
    /// Not a user certificate.
    #[error("certificate is not a user certificate")]
    NotUserCert,
    /// Signed by another key than the one it certifies (hazard O-11 in docs/hazards.md: opkssh
    /// leaves this to sshd; opk and opkssh certificates are always self-signed).
    #[error("certificate is not self-signed by its own key")]
    NotSelfSigned,
    /// No `openpubkey-pkt` extension.
    #[error("certificate has no openpubkey-pkt extension")]
    NoPkToken,
    /// A server file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A server file or home policy is a FIFO, a device, a directory, or (home policies) a
    /// symlink: refused without waiting on it (hazard R-3 in docs/hazards.md).
    #[error("refusing {path}: {kind}, not a regular file; replace it with a regular file")]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        kind: opk_files::FileKind,
    },
    /// A server file is writable by others.
    #[error("refusing {path}: {problem}; fix with: chown root {path} && chmod 640 {path}")]
    UnsafeFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: UnsafeFile,
    },
    /// A user's home policy is not the user's own 0600 file (opkssh's readhome rule).
    #[error(
        "refusing {path}: {problem}; a home policy must be owned by its user with mode 0600: chmod 600 {path}"
    )]
    UnsafeHomeFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: UnsafeHomeFile,
    },
    /// A server file is over the size cap.
    #[error("{path} is over {max} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap.
        max: u64,
    },
    /// The providers or policy file is invalid.
    #[error("{path}: {error}")]
    Policy {
        /// The file.
        path: PathBuf,
        /// The problem.
        error: opk_policy::Error,
    },
    /// The PK Token is malformed or fails verification.
    #[error("PK Token rejected: {0}")]
    PkToken(opk_pktoken::Error),
    /// The token's issuer is not in the providers file. Its `iss` is not yet verified (anyone
    /// can offer such a certificate), so the line shows at most [`SHOWN_CHARS`] of it and of
    /// each configured issuer, and at most [`SHOWN_ISSUERS`] of those.
    #[error(
        "unrecognized issuer {:?}; issuers in {path}: {}",
        shown(issuer),
        shown_list(known)
    )]
    UnknownIssuer {
        /// The token's `iss`.
        issuer: String,
        /// The providers file.
        path: PathBuf,
        /// The configured issuers, in file order.
        known: Vec<String>,
    },
    /// The issuer URL is neither https nor loopback http.
    #[error("issuer {0:?} must use https (http only on loopback)")]
    IssuerScheme(String),
    /// The JWKS could not be had.
    #[error("cannot get the OP's signing keys: {0}")]
    Jwks(opk_jwks::Error),
    /// The certified key is not the key the PK Token commits to.
    #[error("certificate key does not match the PK Token's user key (upk)")]
    KeyBinding,
    /// The policy does not allow this identity as this principal.
    #[error("{} at {files}", .decision.deny_reason.as_deref().unwrap_or("denied by policy"))]
    Denied {
        /// The policy's decision (not allowed), with its reason (boxed: it is large).
        decision: Box<opk_policy::Decision>,
        /// The policy files that were consulted.
        files: PolicyFiles,
    },
    /// The server config's `deny_emails` or `deny_users` lists this identity or account.
    #[error("{denial} of {path}")]
    DenyListed {
        /// The config file.
        path: PathBuf,
        /// The entry that matched.
        denial: opk_policy::Denial,
    },
    /// The server config cannot be read as opkssh's schema; ignoring it could turn its deny lists
    /// off (hazard O-2 in docs/hazards.md).
    #[error(
        "{path} line {line}: {problem}; refusing all logins until it is fixed (opkssh would ignore the whole file, deny lists included)"
    )]
    Config {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong.
        problem: ConfigProblem,
    },
    /// A certificate principal could inject sshd options (hazard H-1 in docs/hazards.md).
    #[error("certificate principal {0:?} is not allowed (letters, digits, . _ + @ -; at most 128)")]
    BadPrincipal(String),
}

/// How much of one untrusted or unbounded value a reason line shows.
pub const SHOWN_CHARS: usize = 200;
/// How many configured issuers an [`Error::UnknownIssuer`] line lists.
pub const SHOWN_ISSUERS: usize = 10;

/// `text`, cut after [`SHOWN_CHARS`] characters with a note of how long it was.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()).into(),
        None => text.into(),
    }
}

/// The first [`SHOWN_ISSUERS`] of `items`, each [`shown`], and how many more there are.
fn shown_list(items: &[String]) -> String {
    let mut out: Vec<String> = items
        .iter()
        .take(SHOWN_ISSUERS)
        .map(|i| shown(i).into_owned())
        .collect();
    if items.len() > SHOWN_ISSUERS {
        out.push(format!("and {} more", items.len() - SHOWN_ISSUERS));
    }
    out.join(", ")
}

// Written out rather than `#[from]`, which would also make the cause the `source`.
impl From<opk_sshcert::Error> for Error {
    fn from(e: opk_sshcert::Error) -> Self {
        Error::Cert(e)
    }
}

impl From<opk_pktoken::Error> for Error {
    fn from(e: opk_pktoken::Error) -> Self {
        Error::PkToken(e)
    }
}

impl From<opk_jwks::Error> for Error {
    fn from(e: opk_jwks::Error) -> Self {
        Error::Jwks(e)
    }
}

/// What is wrong with a system file ([`Error::UnsafeFile`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsafeFile {
    /// Others could change who logs in.
    #[error("{0}")]
    Untrusted(opk_files::TrustProblem),
}

/// What is wrong with a home policy ([`Error::UnsafeHomeFile`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsafeHomeFile {
    /// Owned by another uid than the user's.
    #[error("not owned by the user")]
    NotOwner,
    /// Any mode but 0600.
    #[error("mode is not 0600")]
    Mode,
}

/// The policy files a denial was decided on: the system policy, and the home policy of the
/// target user when home policies are read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyFiles {
    /// The system policy (`/etc/opk/auth_id`).
    pub system: PathBuf,
    /// The user whose `~/.opk/auth_id` was read too.
    pub home_of: Option<String>,
}

impl PolicyFiles {
    pub(crate) fn new(system: &Path, home_of: Option<&str>) -> Self {
        Self {
            system: system.to_owned(),
            home_of: home_of.map(str::to_owned),
        }
    }
}

impl fmt::Display for PolicyFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.system.display())?;
        match &self.home_of {
            Some(user) => write!(f, " and ~{user}/.opk/auth_id"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_variant_is_also_a_source() {
        use std::error::Error as _;
        let errors = [
            Error::Read {
                path: "/p".into(),
                error: std::io::Error::other("x"),
            },
            Error::NotRegular {
                path: "/p".into(),
                kind: opk_files::FileKind::Fifo,
            },
            Error::Cert(opk_sshcert::OpkCert::parse("ssh-ed25519", "!").expect_err("bad")),
        ];
        for e in errors {
            assert!(e.source().is_none(), "{e}");
        }
    }

    #[test]
    fn an_unknown_issuer_line_is_bounded() {
        let e = Error::UnknownIssuer {
            issuer: "x".repeat(90_000),
            path: "/etc/opk/providers".into(),
            known: (0..50).map(|i| format!("https://op{i}.example")).collect(),
        };
        let line = e.to_string();
        assert!(line.len() < 2 * 1024, "{} bytes", line.len());
        assert!(line.contains("… (90000 bytes)"), "{line}");
        assert!(line.ends_with("https://op9.example, and 40 more"), "{line}");
        let short = Error::UnknownIssuer {
            issuer: "https://evil.example".into(),
            path: "/p".into(),
            known: vec!["https://a.example".into()],
        };
        assert_eq!(
            short.to_string(),
            "unrecognized issuer \"https://evil.example\"; issuers in /p: https://a.example"
        );
    }

    #[test]
    fn messages_keep_their_fix() {
        let e = Error::UnsafeHomeFile {
            path: "/home/a/.opk/auth_id".into(),
            problem: UnsafeHomeFile::Mode,
        };
        assert_eq!(
            e.to_string(),
            "refusing /home/a/.opk/auth_id: mode is not 0600; a home policy must be owned by its user with mode 0600: chmod 600 /home/a/.opk/auth_id"
        );
        let files = PolicyFiles::new(Path::new("/etc/opk/auth_id"), Some("bob"));
        assert_eq!(files.to_string(), "/etc/opk/auth_id and ~bob/.opk/auth_id");
    }
}
