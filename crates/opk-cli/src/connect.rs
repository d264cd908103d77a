//! The connection flags `opk ssh`, `opk scp` and `opk zssh` share, spelled as OpenSSH spells them (the port
//! flag is not among them: ssh says `-p`, scp `-P`).

use std::path::PathBuf;

use clap::ArgAction;

#[derive(clap::Args, Debug)]
pub(crate) struct ConnectFlags {
    #[arg(
        help = "Identity (private key) file; its KEY-cert.pub is used with it. Repeatable",
        short = 'i'
    )]
    pub(crate) identity: Vec<PathBuf>,
    #[arg(
        help = "ssh_config option (Key=Value); only the options opk ssh supports. Repeatable",
        short = 'o'
    )]
    pub(crate) option: Vec<String>,
    #[arg(
        help = "ssh_config file to read instead of ~/.ssh/config (\"none\": no file)",
        short = 'F'
    )]
    pub(crate) config: Option<PathBuf>,
    #[arg(help = "Jump hosts: [user@]host[:port][,...]", short = 'J')]
    pub(crate) jump: Option<String>,
}

/// The remote command after the destination, as ssh takes it: every word after it, dashes too.
#[derive(clap::Args, Debug)]
pub(crate) struct RemoteCommand {
    #[arg(
        help = "Command to run instead of a shell",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<String>,
}

/// `-t` (repeatable) and `-T`, as ssh reads them.
#[derive(clap::Args, Debug)]
pub(crate) struct TtyFlags {
    #[arg(help = "Force a PTY (-t: if stdin is a terminal; -tt: always)", short = 't', action = ArgAction::Count)]
    tty: u8,
    #[arg(help = "Never request a PTY", short = 'T')]
    no_tty: bool,
}

impl TtyFlags {
    pub(crate) fn tty(&self) -> opk_ssh::Tty {
        opk_ssh::Tty::from_flags(self.no_tty, self.tty)
    }
}
