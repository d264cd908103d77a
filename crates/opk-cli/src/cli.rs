//! Command-line definitions. opkssh's commands, flags and argument order are kept so scripts and
//! sshd_config lines work unchanged; opk's additions are flags with env-var twins. Each
//! subcommand's arguments live in its own module, next to the code that runs it.

use clap::{Parser, Subcommand};

use crate::{add, login, scp, ssh, verify, ziti, zscp, zssh};

/// SSH with OpenID Connect single sign-on, compatible with OPKSSH.
#[derive(Parser, Debug)]
#[command(name = "opk", version, about)]
pub(crate) struct Cli {
    /// The command.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// opk's commands.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Sign in to an OpenID provider and write an SSH key + certificate carrying a PK Token.
    Login(login::Args),
    /// sshd AuthorizedKeysCommand: `opk verify %u %k %t`. Prints one cert-authority line or nothing.
    Verify(verify::Args),
    /// Allow an identity (email, sub, oidc:claim:value, ...) of an issuer to log in as a principal.
    Add(add::Args),
    /// SSH client: log in with the opk certificate (then other keys, ssh-agent), run a command or shell.
    Ssh(ssh::Args),
    /// Copy files to or from a host over SFTP, with the same connection rules as `opk ssh`.
    Scp(scp::Args),
    /// SSH through an OpenZiti overlay to the host serving it as its own identity (zssh's flags).
    Zssh(zssh::Args),
    /// Copy files over SFTP through an OpenZiti overlay, as `opk scp` does over TCP (zscp's flags).
    Zscp(zscp::Args),
    /// OpenZiti identities: enroll one from its token, host a service as one.
    Ziti(ziti::Args),
}
