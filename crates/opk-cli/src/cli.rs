//! Command-line definitions. opkssh's commands, flags and argument order are kept so scripts and
//! sshd_config lines work unchanged; opk's additions are flags with env-var twins. Each
//! subcommand's arguments live in its own module, next to the code that runs it.

use clap::{Parser, Subcommand};

use crate::{
    add, audit, client, docs, inspect, install, login, logout, permissions, readhome, scp, ssh,
    verify, ziti, zscp, zssh,
};

// clap prints `<name> <version>`: this makes it `opk version v0.1.0`, opkssh's shape
// (`opkssh version v0.16.0`), which scripts parse.
const VERSION: &str = concat!("version v", env!("CARGO_PKG_VERSION"));

const VERIFY_ABOUT: &str =
    "sshd AuthorizedKeysCommand: `opk verify %u %k %t`. Prints one cert-authority line or nothing";

const LOGIN_EXAMPLES: &str = "\
Examples:
  opk login google                         # a built-in provider (google, azure, gitlab, hello)
  opk login --provider https://idp.example,CLIENT_ID
  opk login work --device                  # headless: confirm a code on another device
  opk login --disable-browser-open         # print the URL instead of opening a browser
  opk login google -i ~/.ssh/work          # key at ~/.ssh/work, certificate ~/.ssh/work-cert.pub
  opk login google --print-id-token        # show the ID token's claims (why a policy row fails)
  opk login --create-config                # write ~/.opk/config.yml to edit";

const VERIFY_EXAMPLES: &str = "\
Examples:
  # /etc/ssh/sshd_config.d/60-opk-ssh.conf (opk install writes it):
  AuthorizedKeysCommand /usr/local/bin/opk verify %u %k %t
  AuthorizedKeysCommandUser opksshuser

  # by hand, with a certificate from opk login, against test files:
  opk verify alice \"$(cut -d' ' -f2 ~/.ssh/id_ecdsa-cert.pub)\" ecdsa-sha2-nistp256-cert-v01@openssh.com \\
    --providers-file ./providers --auth-id-file ./auth_id --log-file ./verify.log";

/// SSH with OpenID Connect single sign-on, compatible with OPKSSH.
#[derive(Parser, Debug)]
#[command(name = "opk", version = VERSION, about)]
pub(crate) struct Cli {
    /// The command.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// opk's commands.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Sign in to an OpenID provider and write an SSH key + certificate carrying a PK Token.
    #[command(after_help = LOGIN_EXAMPLES)]
    Login(login::Args),
    /// Print the shell completion script for opk.
    Completions(docs::CompletionsArgs),
    /// Print the opk(1) man page (roff), or write every command's page with --out-dir.
    Man(docs::ManArgs),
    /// Remove the key pairs opk wrote (~/.ssh, ~/.ssh/opkssh, or -i PATH) and their ssh-agent copies.
    Logout(logout::Args),
    /// The client config: `opk client provider list`.
    Client(client::Args),
    #[command(about = VERIFY_ABOUT, after_help = VERIFY_EXAMPLES)]
    Verify(verify::Args),
    /// Allow an identity (email, sub, oidc:claim:value, ...) of an issuer to log in as a principal.
    Add(add::Args),
    /// Check every auth_id row against the providers and flag risky ones; exit 1 if any is wrong.
    Audit(audit::Args),
    /// Check (or fix) owner and mode of the server's files; names each problem and its fix.
    Permissions(permissions::Args),
    /// Show a certificate and its PK Token claims, and when the token expires under each policy.
    Inspect(inspect::Args),
    /// Set up sshd, opksshuser, sudoers and /etc/opk for opk verify (as opkssh's installer); migrates an opkssh install.
    Install(install::Args),
    /// Print a user's ~/.opk/auth_id after checking it (no symlink, owned by the user, mode 0600); run by verify via sudo.
    Readhome(readhome::Args),
    /// SSH client: log in with the opk certificate (then other keys, ssh-agent), run a command or shell.
    Ssh(ssh::Args),
    /// Copy files to or from a host over SFTP, with the same connection rules as `opk ssh`.
    Scp(scp::Args),
    /// SSH through an OpenZiti overlay to the host serving it as its own identity (zssh's flags).
    Zssh(Box<zssh::Args>),
    /// Copy files over SFTP through an OpenZiti overlay, as `opk scp` does over TCP (zscp's flags).
    Zscp(Box<zscp::Args>),
    /// OpenZiti identities: enroll one from its token, host a service as one.
    Ziti(ziti::Args),
}

/// `opk verify` alone, for `opk verify ...` command lines. sshd runs verify on every key a client
/// offers, and building the other subcommands' arguments was a sixth of a warm verify's
/// instructions (callgrind); the help, errors and flags are the same as through [`Cli`].
#[derive(Parser, Debug)]
#[command(name = "opk", version = VERSION, about)]
pub(crate) struct VerifyOnly {
    #[command(subcommand)]
    pub(crate) command: VerifyCommand,
}

/// The one command of [`VerifyOnly`].
#[derive(Subcommand, Debug)]
pub(crate) enum VerifyCommand {
    #[command(about = VERIFY_ABOUT, after_help = VERIFY_EXAMPLES)]
    Verify(verify::Args),
}
