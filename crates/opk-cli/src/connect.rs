//! The connection flags `opk ssh` and `opk scp` share, spelled as OpenSSH spells them (the port
//! flag is not among them: ssh says `-p`, scp `-P`).

use std::path::PathBuf;

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
