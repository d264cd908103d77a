//! The crate's one error type. Each variant says its cause in its message or exposes it as
//! `source`, never both, so a caller printing the chain says every cause once.

use std::path::PathBuf;

/// Errors of `opk login`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Neither `--provider`, `OPKSSH_PROVIDERS` nor the client config names a provider.
    #[error(
        "no provider given: pass --provider ISSUER,CLIENT_ID, set OPKSSH_PROVIDERS, or list providers in the client config"
    )]
    NoProvider,
    /// Several providers and no alias (the web chooser is not there yet).
    #[error("several providers and no alias: run opk login ALIAS with one of {}", .0.join(", "))]
    ChooseAlias(Vec<String>),
    /// `--provider` does not parse.
    #[error("--provider")]
    ProviderFlag(#[source] opk_oidc::Error),
    /// An `OPKSSH_PROVIDERS` entry has no comma after its alias.
    #[error("OPKSSH_PROVIDERS entries are alias,issuer,client_id[,secret[,scopes]]")]
    ProvidersSyntax,
    /// The selected `OPKSSH_PROVIDERS` entry does not parse.
    #[error("OPKSSH_PROVIDERS entry {alias:?}")]
    ProvidersEntry {
        /// The entry's alias.
        alias: String,
        /// Why its provider part is invalid.
        source: opk_oidc::Error,
    },
    /// Two providers have the selected alias.
    #[error("alias {0:?} is defined twice; keep one")]
    DuplicateAlias(String),
    /// No provider has the selected alias.
    #[error(
        "no provider alias {alias:?}{}; the aliases are {}",
        nearest.as_ref().map(|n| format!(" (did you mean {n:?}?)")).unwrap_or_default(),
        known.join(", ")
    )]
    UnknownAlias {
        /// The alias asked for.
        alias: String,
        /// The closest defined alias, when one is close.
        nearest: Option<String>,
        /// Every defined alias.
        known: Vec<String>,
    },
    /// The client config cannot be read.
    #[error("cannot read the client config {path}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The client config is not usable.
    #[error("client config {path}, line {line}: {problem}")]
    Config {
        /// The file.
        path: PathBuf,
        /// The line of the problem.
        line: usize,
        /// What is wrong.
        problem: crate::config::ConfigProblem,
    },
    /// A requested certificate principal would be refused by verify (docs/hazards.md H-1).
    #[error("--principals")]
    Principal(#[source] opk_policy::Error),
    /// The OIDC flow failed.
    #[error(transparent)]
    Oidc(#[from] opk_oidc::Error),
    /// The OP's keys could not be fetched for the self-check.
    #[error("cannot fetch the OP's signing keys to check the new PK Token")]
    Jwks(#[source] opk_jwks::Error),
    /// The new key cannot sign the client instance claims.
    #[error("cannot sign the PK Token with the new key")]
    Signer(#[source] opk_pktoken::Error),
    /// The PK Token does not verify (the OP or the flow misbehaved).
    #[error("the OP's ID token does not make a valid PK Token")]
    PkToken(#[source] opk_pktoken::Error),
    /// Key or certificate construction failed.
    #[error(transparent)]
    Cert(#[from] opk_sshcert::Error),
    /// No randomness from the OS.
    #[error("the operating system provided no randomness")]
    Random(#[source] getrandom::Error),
    /// `--send-access-token` but the OP returned none.
    #[error("--send-access-token was given but the OP returned no access token")]
    NoAccessToken,
    /// `--auto-refresh`, but the OP issued no refresh token.
    #[error(
        "the provider issued no refresh token, so --auto-refresh cannot keep the certificate fresh: ask for offline access (scope offline_access, or access_type offline) or log in without --auto-refresh"
    )]
    NoRefreshToken,
    /// `--auto-refresh` gave up.
    #[error("--auto-refresh stopped after {attempts} attempt(s) to refresh the ID token")]
    RefreshFailed {
        /// How often it was tried.
        attempts: u32,
        /// The last failure.
        source: opk_oidc::Error,
    },
    /// Every default key name holds a key that is not ours.
    #[error("no default ssh key file free for openpubkey in {0}: pass -i PATH to choose one")]
    NoFreeKeyFile(PathBuf),
    /// `--lifetime` does not parse.
    #[error(
        "{0:?} is neither a duration (90s, 30m, 12h, 2d) nor a server expiry policy ({list})",
        list = opk_pktoken::ExpiryPolicy::KEYWORDS
    )]
    BadLifetime(String),
    /// The new PK Token would already be refused under the agent lifetime's policy.
    #[error("the ID token is already too old for a server with expiry policy {0}; pass --lifetime")]
    UselessInAgent(opk_pktoken::ExpiryPolicy),
    /// The agent socket cannot be reached or stopped answering.
    #[error("cannot talk to ssh-agent at {socket} (SSH_AUTH_SOCK)")]
    Agent {
        /// The socket path.
        socket: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The agent answered the add request with a failure.
    #[error("ssh-agent refused the key and certificate (is it locked?)")]
    AgentRefused,
    /// `-i PATH` names a private key opk did not write.
    #[error(
        "{0} holds a private key that opk did not write (no opk certificate beside it): pass --force to replace it, or choose another -i PATH"
    )]
    NotOurKey(PathBuf),
    /// `opk logout -i PATH` names a key that is not opk's.
    #[error("{key} is not opk's to remove: {why}; logout removes only the key pairs opk wrote")]
    NotOurPair {
        /// The private key path.
        key: PathBuf,
        /// Why it is not opk's.
        why: crate::logout::Kept,
    },
    /// The key's directory cannot be written.
    #[error("cannot write the key into {dir} (choose another -i PATH, or fix its permissions)")]
    NotWritable {
        /// The directory checked.
        dir: PathBuf,
        /// Why the probe file could not be created.
        source: std::io::Error,
    },
    /// Writing a file failed.
    #[error(transparent)]
    Files(#[from] opk_files::Error),
    /// A directory or file that must be read cannot be (logout's `~/.ssh/opkssh`).
    #[error("cannot read {path}")]
    Read {
        /// The directory or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Creating or reading a file around the write failed.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
