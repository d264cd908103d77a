//! The crate's one error type. Each variant says its cause in its message or exposes it as
//! `source`, never both, so a caller printing the chain says every cause once.

use std::path::PathBuf;

/// Errors of `opk login`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Neither `--provider` nor `OPKSSH_PROVIDERS` names a provider.
    #[error("no provider given: pass --provider ISSUER,CLIENT_ID or set OPKSSH_PROVIDERS")]
    NoProvider,
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
    /// Two `OPKSSH_PROVIDERS` entries have the selected alias.
    #[error("alias {0:?} appears twice in OPKSSH_PROVIDERS")]
    DuplicateAlias(String),
    /// No `OPKSSH_PROVIDERS` entry has the selected alias.
    #[error("no provider alias {0:?} in OPKSSH_PROVIDERS; pass an alias or --provider")]
    UnknownAlias(String),
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
    /// Every default key name holds a key that is not ours.
    #[error("no default ssh key file free for openpubkey in {0}: pass -i PATH to choose one")]
    NoFreeKeyFile(PathBuf),
    /// Writing a file failed.
    #[error(transparent)]
    Files(#[from] opk_files::Error),
    /// Creating or reading a file around the write failed.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
