//! Why `opk verify` denied a key. Every variant is a one-line reason for stderr and the log: its
//! `Display` says the cause, so no variant also exposes it as `source` (it would be said twice).

use std::path::PathBuf;

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
    /// A server file is writable by others or not a regular file.
    #[error("refusing {path}: {why}; fix with: chown root {path} && chmod 640 {path}")]
    UnsafeFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// A user's home policy is not the user's own 0600 file (opkssh's readhome rule).
    #[error(
        "refusing {path}: {why}; a home policy must be owned by its user with mode 0600: chmod 600 {path}"
    )]
    UnsafeHomeFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
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
    /// The token's issuer is not in the providers file.
    #[error("unrecognized issuer {issuer:?}; issuers in {path}: {known}")]
    UnknownIssuer {
        /// The token's `iss`.
        issuer: String,
        /// The providers file.
        path: PathBuf,
        /// The configured issuers, comma-separated.
        known: String,
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
    #[error("{0}")]
    Denied(String),
    /// The server config uses a feature opk does not implement; ignoring it would widen access.
    #[error(
        "{path} sets {key}, which this opk does not enforce yet; refusing all logins rather than ignoring it (remove {key} or keep opkssh)"
    )]
    UnsupportedConfig {
        /// The config file.
        path: PathBuf,
        /// The key.
        key: &'static str,
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
        problem: crate::server_config::ConfigProblem,
    },
    /// A certificate principal could inject sshd options (hazard H-1).
    #[error("certificate principal {0:?} is not allowed (letters, digits, . _ + @ -; at most 128)")]
    BadPrincipal(String),
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
