//! The crate's single error type.

use std::fmt;
use std::path::PathBuf;

use russh_sftp::protocol::StatusCode;

/// Why one copy (or the whole run) failed. Each is printed as it happens; the run goes on with
/// the next file, as scp does, and the exit status is non-zero at the end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A local file operation failed.
    #[error("{op} {}", path.display())]
    Local {
        /// What we were doing ("cannot open", "cannot write", ...).
        op: &'static str,
        /// The local path.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A remote (SFTP) operation failed.
    #[error("{op} {path}")]
    Remote {
        /// What we were doing.
        op: &'static str,
        /// The remote path.
        path: String,
        /// What the server said.
        #[source]
        source: SftpCause,
    },
    /// A directory given without `-r`.
    #[error("{0}: is a directory (use -r to copy directories)")]
    IsDirectory(String),
    /// A device, socket or FIFO.
    #[error("{0}: not a regular file")]
    NotRegular(String),
    /// A remote glob that matched nothing.
    #[error("{0}: no such file or directory (the pattern matched nothing)")]
    NoMatch(String),
    /// Several sources, or a directory, to a target that is not a directory.
    #[error("target {0} is not a directory")]
    NotADirectory(String),
    /// A source like `/` or `..` whose name cannot be used in the target.
    #[error("{0}: cannot copy a path without a file name")]
    NoName(String),
    /// Directory recursion deeper than the cap (a symlink loop, most likely).
    #[error("{0}: directories nested more than {max} deep (a symlink loop?)", max = crate::MAX_DEPTH)]
    TooDeep(String),
    /// Connecting, authenticating or opening the `sftp` channel failed.
    #[error(transparent)]
    Ssh(Box<opk_ssh::Error>),
    /// No operand names a host.
    #[error("no remote operand: one side must be [user@]host:path (for local copies use cp)")]
    NoRemote,
    /// Both sides remote, or sources on several hosts, or local and remote sources mixed.
    #[error("copies must go between this machine and one host: {0}")]
    Direction(&'static str),
    /// The SFTP subsystem did not start.
    #[error("the SFTP session did not start (is the sftp subsystem enabled on the server?)")]
    Start(#[source] SftpCause),
}

/// What the SFTP server (or the SFTP layer) said, in words a user reads.
#[derive(Debug)]
pub struct SftpCause(Inner);

#[derive(Debug)]
enum Inner {
    Sftp(russh_sftp::client::error::Error),
    /// A status russh-sftp's `File` passed on as its message only.
    Message(String),
}

// OpenSSH's sftp-server reports ENOSPC (and most unmapped errors) as plain "Failure".
const FAILURE: &str = "failure reported by the server (disk full?)";

impl fmt::Display for SftpCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use russh_sftp::client::error::Error as E;
        match &self.0 {
            Inner::Sftp(E::Status(s)) => match s.status_code {
                StatusCode::NoSuchFile => f.write_str("No such file or directory"),
                StatusCode::PermissionDenied => f.write_str("Permission denied"),
                StatusCode::Failure => f.write_str(FAILURE),
                code if s.error_message.is_empty() => write!(f, "{code}"),
                _ => f.write_str(&s.error_message),
            },
            Inner::Sftp(other) => write!(f, "{other}"),
            Inner::Message(m) if m == "Failure" => f.write_str(FAILURE),
            Inner::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for SftpCause {}

impl SftpCause {
    /// An I/O error from russh-sftp's `File` carries the SFTP error inside; take it out so the
    /// server's status is what the user reads.
    pub(crate) fn from_io(e: std::io::Error) -> Self {
        use russh_sftp::client::error::Error as E;
        match e.get_ref().and_then(|i| i.downcast_ref::<E>()) {
            Some(inner) => SftpCause(Inner::Sftp(inner.clone())),
            None => SftpCause(Inner::Message(e.to_string())),
        }
    }
}

impl From<russh_sftp::client::error::Error> for SftpCause {
    fn from(e: russh_sftp::client::error::Error) -> Self {
        SftpCause(Inner::Sftp(e))
    }
}
