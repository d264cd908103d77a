//! `opk ssh`: OpenSSH-style flags in, [`opk_ssh::ssh`] does the work; its exit status out.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ArgAction;

/// `opk ssh [options] [user@]host [command...]`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    // Help texts are attributes, not doc comments: rustdoc would read `[user@]` as links.
    #[arg(help = "Port to connect to", short = 'p')]
    port: Option<u16>,
    #[arg(help = "User to log in as", short = 'l')]
    login: Option<String>,
    #[arg(
        help = "Identity (private key) file; its KEY-cert.pub is used with it. Repeatable",
        short = 'i'
    )]
    identity: Vec<PathBuf>,
    #[arg(help = "Force a PTY (-t: if stdin is a terminal; -tt: always)", short = 't', action = ArgAction::Count)]
    tty: u8,
    #[arg(help = "Never request a PTY", short = 'T')]
    no_tty: bool,
    #[arg(
        help = "ssh_config option (Key=Value); only the options opk ssh supports. Repeatable",
        short = 'o'
    )]
    option: Vec<String>,
    #[arg(
        help = "ssh_config file to read instead of ~/.ssh/config (\"none\": no file)",
        short = 'F'
    )]
    config: Option<PathBuf>,
    #[arg(
        help = "Local forward [bind:]port:host:hostport. Repeatable",
        short = 'L'
    )]
    local: Vec<String>,
    #[arg(
        help = "Remote forward [bind:]port:host:hostport. Repeatable",
        short = 'R'
    )]
    remote: Vec<String>,
    #[arg(help = "SOCKS5 proxy on [bind:]port. Repeatable", short = 'D')]
    dynamic: Vec<String>,
    #[arg(help = "Jump hosts: [user@]host[:port][,...]", short = 'J')]
    jump: Option<String>,
    #[arg(
        help = "Forward the ssh-agent (SSH_AUTH_SOCK) to the server",
        short = 'A'
    )]
    forward_agent: bool,
    #[arg(help = "No remote command (forwarding only)", short = 'N')]
    no_command: bool,
    #[arg(help = "Read stdin from /dev/null", short = 'n')]
    stdin_null: bool,
    #[arg(help = "[user@]host[:port], or a Host alias of ssh_config")]
    destination: String,
    #[arg(
        help = "Command to run instead of a shell",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

/// Runs it. Exit status: the remote command's (128+n for a signal), or 255 when opk ssh itself
/// fails (as OpenSSH), so scripts can tell the two apart.
pub(crate) fn run(cmd: Args) -> ExitCode {
    let tty = match (cmd.no_tty, cmd.tty) {
        (true, _) => opk_ssh::Tty::Never,
        (false, 0) => opk_ssh::Tty::Auto,
        (false, 1) => opk_ssh::Tty::Want,
        (false, _) => opk_ssh::Tty::Force,
    };
    let args = opk_ssh::SshArgs {
        destination: cmd.destination,
        command: cmd.command,
        port: cmd.port,
        login: cmd.login,
        identity_files: cmd.identity,
        options: cmd.option,
        config_file: cmd.config,
        tty,
        local: cmd.local,
        remote: cmd.remote,
        dynamic: cmd.dynamic,
        jump: cmd.jump,
        forward_agent: cmd.forward_agent,
        no_command: cmd.no_command,
        stdin_null: cmd.stdin_null,
    };
    match opk_ssh::ssh(&args) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("opk ssh: {}", crate::one_line(&e));
            ExitCode::from(opk_ssh::EXIT_SSH_ERROR)
        }
    }
}
